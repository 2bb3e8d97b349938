# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fips_guard: the update guard script is data/fipsmodule-refresh.sh, carried to the host as
fips_guard_script.TEXT, with a host's values written into its settings. (shellcheck checks the
file in ansible-test sanity; the integration tier runs the installed script against a real
openssl and fips.so, tests/integration/test_openssl_fips.py.)"""

import os
import subprocess
import sys

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import fips_guard, openssl_cnf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
SCRIPT = os.path.join(ROOT, "data", "fipsmodule-refresh.sh")
FLATCAR = ("/usr/bin/openssl", "/usr/lib64/ossl-modules/fips.so", "/etc/ssl/fipsmodule.cnf",
           "/run/flatcar-fips/fipsmodule-refresh.status", False)


def settings(text):
    return [line for line in text.splitlines() if line.split("=", 1)[0] in fips_guard.SETTINGS]


def test_the_module_is_generated_from_the_script_as_it_is_now():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "guard_script.py"),
                           "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with open(SCRIPT, encoding="utf-8") as f:
        assert f.read() == fips_guard.script(*FLATCAR), "the file's settings are Flatcar's"


def test_each_setting_is_one_line_and_only_the_settings_change():
    assert settings(fips_guard.TEXT) == [
        "OPENSSL=/usr/bin/openssl", "MODULE=/usr/lib64/ossl-modules/fips.so",
        "CNF=/etc/ssl/fipsmodule.cnf", "STATUS=/run/flatcar-fips/fipsmodule-refresh.status",
        "ACCEPT_UNVERIFIED=0"]
    text = fips_guard.script("/opt/my tools/openssl", "/x/it's fips.so", "/etc/ssl/f.cnf",
                             "/run/s", True)
    assert settings(text) == ["OPENSSL='/opt/my tools/openssl'",
                              "MODULE='/x/it'\"'\"'s fips.so'", "CNF=/etc/ssl/f.cnf",
                              "STATUS=/run/s", "ACCEPT_UNVERIFIED=1"]
    assert [line for line in text.splitlines() if line not in settings(text)] == [
        line for line in fips_guard.TEXT.splitlines() if line not in settings(fips_guard.TEXT)]


@pytest.mark.parametrize("accept", [False, True])
def test_the_shell_reads_the_settings_as_given(tmp_path, accept):
    """The rendered script parses, and its --check sees the odd path exactly as written."""
    module = tmp_path / "it's a fips.so"
    module.write_bytes(b"not a module")
    guard = tmp_path / "fipsmodule-refresh"
    guard.write_text(fips_guard.script("/bin/false", str(module), str(tmp_path / "f.cnf"),
                                       str(tmp_path / "status"), accept))
    assert subprocess.run(["sh", "-n", str(guard)], check=False).returncode == 0
    check = subprocess.run(["sh", str(guard), "--check"], capture_output=True, text=True,
                           check=False, timeout=60)
    assert check.returncode in (1, 2) and str(module) in check.stdout, check.stdout
    # fips_facts reads this line to report update_guard.accepts_unverified
    assert ("ACCEPT_UNVERIFIED=1" in guard.read_text().splitlines()) is accept


def test_the_header_it_writes_is_the_one_openssl_fips_writes():
    assert fips_guard.GENERATED_HEADER.startswith(openssl_cnf.GENERATED_MARKER)
    assert fips_guard.GENERATED_HEADER.count("\n") == 2
    assert fips_guard.UNIT_NAME in fips_guard.GENERATED_HEADER
    assert "<<'HEADER'\n" + fips_guard.GENERATED_HEADER + "HEADER\n" in fips_guard.TEXT
