# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fips.so behind a real overlayfs mount (as on Flatcar once systemd-sysext merged an extension
over /usr): every file then reports the overlay's anonymous device, and the storage check must
look at the mount below it, in both implementations (Python for fips_facts and openssl_fips, the
shell guard at boot). This machine has no device-mapper, so the verdict here is "fail" for the
right reason; the pass through a real dm-verity device is proven on the VM testbed."""

import os
import shutil
import subprocess

from ansible_collections.flatcar.fips.plugins.module_utils import fips_guard, verity


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


def which(name, opt_dirs=None):
    return shutil.which(name)


def test_overlay_is_seen_through(tmp_path):
    lower, ext, merged = tmp_path / "lower", tmp_path / "ext", tmp_path / "merged"
    for d in (lower / "lib", ext, merged):
        d.mkdir(parents=True)
    (lower / "lib" / "fips.so").write_bytes(b"module")
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=%s:%s" % (ext, lower), str(merged)], check=True)
    try:
        target = str(merged / "lib" / "fips.so")
        st = os.stat(target)
        assert os.major(st.st_dev) == 0, "an overlay reports an anonymous device"
        r = verity.storage(target, run, which)
        assert r["status"] == "fail", r
        assert "(under the overlay on %s)" % merged in r["reason"]
        assert "not a device-mapper device" in r["reason"]

        guard = tmp_path / "guard.sh"
        guard.write_text(fips_guard.script("/usr/bin/openssl", target,
                                           str(tmp_path / "fipsmodule.cnf"),
                                           str(tmp_path / "status"), False))
        check = subprocess.run(["sh", str(guard), "--check"], capture_output=True, text=True,
                               check=False)
        assert check.returncode == 1
        assert "(under the overlay on %s)" % merged in check.stdout
        assert "not a device-mapper device" in check.stdout
    finally:
        subprocess.run(["umount", str(merged)], check=False)
