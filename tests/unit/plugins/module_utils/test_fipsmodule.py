# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fipsmodule.decide: what happens to fipsmodule.cnf, case by case (the real openssl runs in
tests/integration/test_openssl_fips.py)."""

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import fipsmodule, openssl_cnf
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure

OURS = openssl_cnf.GENERATED_MARKER + " ...\n[fips_sect]\nactivate = 1\n"
SHIPPED = "[fips_sect]\nactivate = 1\nmodule-mac = 00:11\n"


@pytest.mark.parametrize("text, verified, regenerate, action", [
    (SHIPPED, True, False, "kept"),            # Flatcar's own file, matching fips.so
    (OURS, True, False, "kept"),               # ours, still matching
    (None, False, False, "generated"),         # LTS-2023: none shipped
    (OURS, False, False, "regenerated"),       # ours, after an update replaced fips.so
    (SHIPPED, False, True, "regenerated"),     # the operator vouches for fips.so
])
def test_decide(text, verified, regenerate, action):
    assert fipsmodule.decide("/etc/ssl/fipsmodule.cnf", text, verified, "VERIFY FAILED",
                             "/usr/lib64/ossl-modules/fips.so", regenerate) == action


def test_a_shipped_file_that_does_not_verify_is_refused_never_overwritten():
    with pytest.raises(Failure) as e:
        fipsmodule.decide("/etc/ssl/fipsmodule.cnf", SHIPPED, False,
                          "line 1\nINSTALL FAILED\nVERIFY FAILED\n",
                          "/usr/lib64/ossl-modules/fips.so", False)
    assert "does not verify against /usr/lib64/ossl-modules/fips.so" in e.value.msg
    assert "INSTALL FAILED | VERIFY FAILED" in e.value.msg
    assert "regenerate_fipsmodule=true" in e.value.msg and "Nothing was changed" in e.value.msg
    assert e.value.extra == dict(path="/etc/ssl/fipsmodule.cnf")
