# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.kernel_args through a real ansible-playbook, on temp OEM trees."""

import hashlib
import json

import pytest

QEMU = '# Flatcar GRUB settings\n\nset oem_id="qemu"\nset linux_append="flatcar.autologin"\n'
QEMU_FIPS = ('# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
             'set linux_append="$linux_append flatcar.autologin fips=1"\n')
TASK = "Manage kernel arguments"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tree(tmp_path):
    oem = tmp_path / "oem"
    oem.mkdir()
    (oem / "grub.cfg").write_text(QEMU)
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOT_IMAGE=/flatcar/vmlinuz-a mount.usr=/dev/mapper/usr "
                       "root=LABEL=ROOT console=ttyS0,115200n8 flatcar.autologin\n")
    return dict(grub_cfg=str(oem / "grub.cfg"), proc_cmdline=str(cmdline))


def test_check_apply_reapply(playbook, tree, tmp_path):
    cfg = tmp_path / "oem" / "grub.cfg"
    before = digest(cfg)
    vars_ = dict(tree, present=["fips=1"])

    check = playbook("kernel_args.yml", vars_, check=True)
    assert check.rc == 0, check.stdout
    predicted = check.task(TASK)
    assert predicted["changed"] is True
    assert digest(cfg) == before, "--check modified the file"
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["grub.cfg"]

    apply = playbook("kernel_args.yml", vars_)
    assert apply.rc == 0, apply.stdout
    done = apply.task(TASK)
    assert done["changed"] is True
    assert cfg.read_text() == QEMU_FIPS
    # check mode predicted exactly what the real run then did
    for key in ("changed", "args_configured", "args_conditional", "args_added", "args_removed",
                "reboot_required", "created", "path"):
        assert predicted[key] == done[key], key
    assert done["args_configured"] == ["flatcar.autologin", "fips=1"]
    assert done["reboot_required"] is True
    assert "changed=1" in apply.stdout

    again = playbook("kernel_args.yml", vars_)
    assert again.rc == 0
    assert again.task(TASK)["changed"] is False
    assert "changed=0" in again.stdout
    assert cfg.read_text() == QEMU_FIPS

    check_again = playbook("kernel_args.yml", vars_, check=True)
    assert check_again.task(TASK)["changed"] is False


def test_diff_shows_the_consolidated_line(playbook, tree):
    run = playbook("kernel_args.yml", dict(tree, present=["fips=1"]), check=True, diff=True)
    assert run.rc == 0
    assert '-set linux_append="flatcar.autologin"' in run.stdout
    assert '+set linux_append="$linux_append flatcar.autologin fips=1"' in run.stdout
    assert "grub.cfg" in run.stdout


def test_absent_and_backup(playbook, tree, tmp_path):
    cfg = tmp_path / "oem" / "grub.cfg"
    cfg.write_text(QEMU_FIPS)
    run = playbook("kernel_args.yml", dict(tree, absent=["fips"], backup=True))
    assert run.rc == 0
    result = run.task(TASK)
    assert result["changed"] is True and result["args_removed"] == ["fips=1"]
    assert cfg.read_text() == ('# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
                               'set linux_append="$linux_append flatcar.autologin"\n')
    with open(result["backup_file"]) as f:
        assert f.read() == QEMU_FIPS
    # the running kernel has no fips=1, so leaving it out needs no reboot
    assert result["reboot_required"] is False


def test_creates_the_file_on_a_bare_metal_tree(playbook, tree, tmp_path):
    cfg = tmp_path / "oem" / "grub.cfg"
    cfg.unlink()
    run = playbook("kernel_args.yml", dict(tree, present=["fips=1"]))
    assert run.rc == 0 and run.task(TASK)["created"] is True
    assert cfg.read_text() == 'set linux_append="$linux_append fips=1"\n'


@pytest.mark.parametrize(("change", "content", "fragment"), [
    (dict(present=["fips=1 quiet"]), QEMU, "contains whitespace"),
    (dict(present=["fips=1;reboot"]), QEMU, "';'"),
    (dict(present=["fips=1"]), 'set oem_id="qemu"\nset linux_append="$linux_append $x"\n',
     "line 2"),
    (dict(present=["fips=1"]),
     'if [ "$grub_platform" = efi ]; then\n  set linux_append="console=ttyS1"\nfi\n',
     "line 2"),
])
def test_bad_input_fails_and_leaves_the_file(playbook, tree, tmp_path, change, content, fragment):
    cfg = tmp_path / "oem" / "grub.cfg"
    cfg.write_text(content)
    before = digest(cfg)
    run = playbook("kernel_args.yml", dict(tree, **change))
    assert run.rc != 0
    result = run.task(TASK)
    assert result["failed"] is True
    assert fragment in result["msg"] and "Nothing was changed" in result["msg"]
    assert digest(cfg) == before
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["grub.cfg"]


def test_path_is_a_directory(playbook, tree, tmp_path):
    run = playbook("kernel_args.yml", dict(tree, grub_cfg=str(tmp_path / "oem"),
                                           present=["fips=1"]))
    assert run.rc != 0
    assert "is a directory" in run.task(TASK)["msg"]


def test_ad_hoc(ansible, tree):
    run = ansible("flatcar.fips.kernel_args",
                  dict(path=tree["grub_cfg"], proc_cmdline=tree["proc_cmdline"]))
    assert run.rc == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout
    assert '"args_configured": [\n        "flatcar.autologin"\n    ]' in run.stdout


def test_ansible_doc_renders(ansible_doc):
    text = ansible_doc("-t", "module", "flatcar.fips.kernel_args")
    assert text.rc == 0, text.stderr
    for word in ("present", "absent", "backup", "reboot_required", "check_mode", "diff_mode",
                 "linux_append", "EXAMPLES"):
        assert word in text.stdout
    doc = json.loads(ansible_doc("-t", "module", "--json", "flatcar.fips.kernel_args").stdout)
    options = doc["flatcar.fips.kernel_args"]["doc"]["options"]
    assert set(options) == {"present", "absent", "path", "backup", "proc_cmdline"}
    assert all(o.get("type") for o in options.values())
