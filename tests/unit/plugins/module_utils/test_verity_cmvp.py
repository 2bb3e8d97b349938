# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage check behind the update guard (module_utils/verity.py) and the CMVP list
(module_utils/cmvp.py).

This machine has no device-mapper (no dm_mod in the container), so a real dm-verity device
exists only on the VM testbed, where tests/testbed/playbooks/verify.yml checks the same function
and the guard script against one. Here the sysfs tree and the dmsetup/veritysetup answers are
stand-ins written in the exact formats those tools print (captured from the VM), and the
not-device-mapper branch runs for real on this machine's own file system."""

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
