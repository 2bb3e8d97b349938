# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage check behind the update guard (module_utils/verity.py) and the CMVP list
(module_utils/cmvp.py).

This machine has no device-mapper (no dm_mod in the container), so a real dm-verity device
exists only on the VM testbed, where extensions/molecule/shared/verify.yml checks the same function
and the guard script against one. Here the sysfs tree and the dmsetup/veritysetup answers are
stand-ins written in the exact formats those tools print (captured from the VM), and the
not-device-mapper branch runs for real on this machine's own file system."""

import hashlib
import os

from ansible_collections.flatcar.fips.plugins.module_utils import cmvp, verity


def fake_sysfs(tmp_path, path, name):
    st = os.stat(path)
    d = tmp_path / "sys" / ("%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))) / "dm"
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    return str(tmp_path / "sys")


def tools(answers):
    def run(argv):
        return answers[os.path.basename(argv[0])]

    def which(name, opt_dirs=None):
        return "/usr/sbin/" + name if name in answers else None

    return run, which


def test_not_device_mapper_is_a_fail_for_real(tmp_path):
    f = tmp_path / "fips.so"
    f.write_bytes(b"x")
    r = verity.storage(str(f), *tools({}))
    assert r["status"] == "fail" and "not a device-mapper device" in r["reason"]


def test_verified_corrupt_other_target(tmp_path):
    f = tmp_path / "fips.so"
    f.write_bytes(b"x")
    sysfs = fake_sysfs(tmp_path, str(f), "usr")
    ok = verity.storage(str(f), *tools({"dmsetup": (0, "0 2097152 verity V\n", "")}),
                        sys_dev_block=sysfs)
    assert ok == dict(status="pass", device="/dev/mapper/usr",
                      reason="%s is on /dev/mapper/usr, verified by dm-verity" % f)
    bad = verity.storage(str(f), *tools({"dmsetup": (0, "0 2097152 verity C\n", "")}),
                         sys_dev_block=sysfs)
    assert bad["status"] == "fail" and "corruption" in bad["reason"]
    crypt = verity.storage(str(f), *tools({"dmsetup": (0, "0 2097152 crypt\n", "")}),
                           sys_dev_block=sysfs)
    assert crypt["status"] == "fail" and "a crypt device, not dm-verity" in crypt["reason"]
    # no dmsetup: veritysetup's status says the same
    vs = verity.storage(str(f), *tools({"veritysetup": (0, (
        "/dev/mapper/usr is active and is in use.\n  type:        VERITY\n"
        "  status:      verified\n  hash type:   1\n"), "")}), sys_dev_block=sysfs)
    assert vs["status"] == "pass"
    # neither tool: unknown, never a pass
    none = verity.storage(str(f), *tools({}), sys_dev_block=sysfs)
    assert none["status"] == "unknown"
    missing = verity.storage(str(tmp_path / "nope"), *tools({}))
    assert missing["status"] == "unknown"


def test_cmvp_three_values():
    assert cmvp.validation("3.1.2")["status"] == "pass"
    assert cmvp.validation("3.1.2")["certificate"] == "4985"
    historical = cmvp.validation("3.0.9")
    assert historical["status"] == "fail" and "historical" in historical["reason"]
    other = cmvp.validation("3.0.22")
    assert other["status"] == "fail" and "holds no CMVP certificate" in other["reason"]
    assert "3.1.2 (#4985, FIPS 140-3)" in other["reason"]
    assert cmvp.validation(None)["status"] == "unknown"


def overlay_world(tmp_path, file_bytes, device_bytes):
    """/usr as Flatcar has it with sysexts merged: /dev/mapper/usr (verity) at /usr, then an
    overlay on /usr on top; the file seen through the overlay, and the same path on the device."""
    usr = tmp_path / "usr"
    (usr / "lib64").mkdir(parents=True)
    f = usr / "lib64" / "fips.so"
    f.write_bytes(file_bytes)
    mi = tmp_path / "mountinfo"
    mi.write_text(
        "20 1 254:3 / / rw - ext4 /dev/vda9 rw\n"
        "30 20 253:0 / %s ro - ext4 /dev/mapper/usr ro\n"
        "40 20 0:44 / %s ro - overlay overlay ro,lowerdir=/run/systemd/sysext/meta/usr:/usr\n"
        % (usr, usr))
    sysfs = tmp_path / "sys"
    (sysfs / "253:0" / "dm").mkdir(parents=True)
    (sysfs / "253:0" / "dm" / "name").write_text("usr\n")
    device_sum = hashlib.sha256(device_bytes).hexdigest()
    calls = []

    def run(argv):
        calls.append(argv)
        if os.path.basename(argv[0]) == "dmsetup":
            return 0, "0 2097152 verity V\n", ""
        if os.path.basename(argv[0]) == "unshare":
            # the device is mounted in a private namespace and read at root + relative path
            assert argv[-3:-2] == ["/dev/mapper/usr"] and argv[-1] == "/lib64/fips.so"
            return 0, "%s  %s/lib64/fips.so\n" % (device_sum, argv[-2]), ""
        raise AssertionError(argv)

    def which(name, opt_dirs=None):
        return "/usr/bin/" + name if name in ("dmsetup", "unshare") else None

    return str(f), run, which, str(sysfs), str(mi), calls


def test_overlay_over_verified_usr(tmp_path, monkeypatch):
    """Flatcar with Docker's sysext merged: every file under /usr reports the overlay's device.
    The mount below the overlay is the verified one, and the bytes are the same: pass. A file the
    extension brings (other bytes): fail. (The real overlay and mountinfo are exercised in
    tests/faults/test_verity_overlay.py; the real dm-verity device on the VM.)"""
    monkeypatch.setattr(verity.tempfile, "mkdtemp", lambda prefix, dir: str(tmp_path / "mnt"))
    monkeypatch.setattr(verity.os, "rmdir", lambda p: None)
    monkeypatch.setattr(verity.os.path, "isdir", lambda p: False)
    path, run, which, sysfs, mi, _calls = overlay_world(tmp_path, b"fips", b"fips")
    r = verity.storage(path, run, which, sys_dev_block=sysfs, mountinfo_path=mi)
    assert r["status"] == "pass", r
    assert "under the overlay on" in r["reason"] and r["device"] == "/dev/mapper/usr"
    path, run, which, sysfs, mi, _calls = overlay_world(tmp_path / "b", b"evil", b"fips")
    r = verity.storage(path, run, which, sys_dev_block=sysfs, mountinfo_path=mi)
    assert r["status"] == "fail" and "a system extension provides it" in r["reason"]


def test_mountinfo_escapes_and_serving(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
                  "2 1 8:2 / /srv/my\\040data rw - ext4 /dev/sda2 rw\n"
                  "3 1 0:9 / /srv rw - overlay overlay rw\n")
    entries = verity.mountinfo(str(mi))
    assert entries[1]["mountpoint"] == "/srv/my data"
    # the overlay mounted later on /srv hides the earlier mount below it
    assert verity.serving(entries, "/srv/my data/x") == 2
    assert verity.serving(entries, "/srv/my data/x", before=2) == 1
    assert verity.serving(entries, "/etc/x") == 0
