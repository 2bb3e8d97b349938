# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kernel_args through AnsibleModule, on real files in a temp dir."""

import hashlib
import json
import os

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import grub_cfg
from ansible_collections.flatcar.fips.plugins.modules import kernel_args

QEMU = '# Flatcar GRUB settings\n\nset oem_id="qemu"\nset linux_append="flatcar.autologin"\n'
QEMU_FIPS = ('# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
             'set linux_append="$linux_append flatcar.autologin fips=1"\n')


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def oem(tmp_path):
    d = tmp_path / "oem"
    d.mkdir()
    (d / "grub.cfg").write_text(QEMU)
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOT_IMAGE=/flatcar/vmlinuz-a root=LABEL=ROOT flatcar.autologin\n")
    return d / "grub.cfg", cmdline


def test_apply_then_idempotent(run_module, oem):
    cfg, cmdline = oem
    args = dict(path=str(cfg), present=["fips=1"], proc_cmdline=str(cmdline))
    r = run_module(kernel_args.main, args)
    assert r["_rc"] == 0 and r["changed"] is True
    assert cfg.read_text() == QEMU_FIPS
    assert r["args_configured"] == ["flatcar.autologin", "fips=1"]
    assert r["args_added"] == ["fips=1"] and r["args_removed"] == []
    assert r["args_running"][-1] == "flatcar.autologin"
    assert r["reboot_required"] is True
    assert r["validated_with"][0] == "parser"
    r2 = run_module(kernel_args.main, args)
    assert r2["changed"] is False and r2["reboot_required"] is True
    # once the kernel runs with it, no reboot is required
    cmdline.write_text("root=LABEL=ROOT flatcar.autologin fips=1\n")
    assert run_module(kernel_args.main, args)["reboot_required"] is False


def test_check_mode_predicts_and_writes_nothing(run_module, oem):
    cfg, cmdline = oem
    before = sha256(cfg)
    mtime = os.stat(cfg).st_mtime_ns
    r = run_module(kernel_args.main, dict(path=str(cfg), present=["fips=1"],
                                          proc_cmdline=str(cmdline)), check_mode=True, diff=True)
    assert r["changed"] is True
    assert r["diff"]["before"] == QEMU and r["diff"]["after"] == QEMU_FIPS
    assert r["args_configured"] == ["flatcar.autologin", "fips=1"]
    assert sha256(cfg) == before and os.stat(cfg).st_mtime_ns == mtime
    assert sorted(os.listdir(cfg.parent)) == ["grub.cfg"]
    # Only what ran: grub-script-check checks the file about to be installed, not in check mode.
    assert r["validated_with"] == ["parser"]
    applied = run_module(kernel_args.main, dict(path=str(cfg), present=["fips=1"],
                                                proc_cmdline=str(cmdline)))
    assert applied["validated_with"] == ["parser", "grub-script-check"]


def test_creates_missing_file_with_mode_0644(run_module, tmp_path):
    cfg = tmp_path / "grub.cfg"
    r = run_module(kernel_args.main, dict(path=str(cfg), present=["fips=1"],
                                          proc_cmdline=str(tmp_path / "nope")), diff=True)
    assert r["changed"] is True and r["created"] is True
    assert cfg.read_text() == 'set linux_append="$linux_append fips=1"\n'
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o644"
    assert r["reboot_required"] is None
    assert "reboot_required is unknown" in json.dumps(r.get("warnings"))
    assert r["diff"]["before_header"].endswith("(absent)")
    # never anything else: no first_boot flag, no temp files left
    assert sorted(os.listdir(tmp_path)) == ["grub.cfg"]


def test_existing_mode_is_kept_and_backup_made(run_module, oem):
    cfg, cmdline = oem
    os.chmod(cfg, 0o600)
    r = run_module(kernel_args.main, dict(path=str(cfg), present=["fips=1"], backup=True,
                                          proc_cmdline=str(cmdline)))
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o600"
    with open(r["backup_file"]) as f:
        assert f.read() == QEMU


def test_symlink_is_followed(run_module, oem, tmp_path):
    cfg, cmdline = oem
    link = tmp_path / "link.cfg"
    link.symlink_to(cfg)
    r = run_module(kernel_args.main, dict(path=str(link), present=["fips=1"],
                                          proc_cmdline=str(cmdline)))
    assert r["path"] == str(cfg)
    assert link.is_symlink() and cfg.read_text() == QEMU_FIPS


def test_absent(run_module, oem):
    cfg, cmdline = oem
    cfg.write_text(QEMU_FIPS)
    cmdline.write_text("root=LABEL=ROOT flatcar.autologin fips=1\n")
    r = run_module(kernel_args.main, dict(path=str(cfg), absent=["fips"],
                                          proc_cmdline=str(cmdline)))
    assert r["changed"] is True and r["args_removed"] == ["fips=1"]
    assert r["reboot_required"] is True
    assert cfg.read_text() == ('# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
                               'set linux_append="$linux_append flatcar.autologin"\n')


def test_report_only(run_module, oem):
    cfg, cmdline = oem
    r = run_module(kernel_args.main, dict(path=str(cfg), proc_cmdline=str(cmdline)))
    assert r["changed"] is False and r["reboot_required"] is False
    assert r["args_configured"] == ["flatcar.autologin"]


@pytest.mark.parametrize(("args", "fragment"), [
    (dict(present=["fips=1 quiet"]), "contains whitespace"),
    (dict(present=["$(reboot)"]), "'$'"),
    (dict(present=["a;b"]), "';'"),
    (dict(present=["fips=1"], absent=["fips"]), "present and matched by absent"),
])
def test_bad_arguments_change_nothing(run_module, oem, args, fragment):
    cfg, cmdline = oem
    before = sha256(cfg)
    r = run_module(kernel_args.main, dict(args, path=str(cfg), proc_cmdline=str(cmdline)))
    assert r["failed"] is True and r["_rc"] == 1
    assert fragment in r["msg"] and "Nothing was changed" in r["msg"]
    assert sha256(cfg) == before


def test_unsafe_file_names_the_line(run_module, oem):
    cfg, cmdline = oem
    cfg.write_text('set oem_id="qemu"\nset linux_append="$linux_append $extra"\n')
    before = sha256(cfg)
    r = run_module(kernel_args.main, dict(path=str(cfg), present=["fips=1"],
                                          proc_cmdline=str(cmdline)))
    assert r["failed"] is True
    assert "%s line 2" % cfg in r["msg"]
    assert 'set linux_append="$linux_append $extra"' in r["msg"]
    assert r["line"] == 2
    assert sha256(cfg) == before


def test_path_is_a_directory(run_module, oem):
    cfg, _cmdline = oem
    r = run_module(kernel_args.main, dict(path=str(cfg.parent), present=["fips=1"]))
    assert r["failed"] is True and "is a directory" in r["msg"]


def test_missing_directory(run_module, tmp_path):
    r = run_module(kernel_args.main, dict(path=str(tmp_path / "nope" / "grub.cfg"),
                                          present=["fips=1"]))
    assert r["failed"] is True and "is the OEM partition mounted" in r["msg"]


def test_missing_directory_absent_only(run_module, tmp_path):
    """Removing an argument from a file that is not there changes nothing (nothing configures
    it), and creates nothing."""
    r = run_module(kernel_args.main, dict(path=str(tmp_path / "nope" / "grub.cfg"),
                                          absent=["fips=1"]))
    assert r.get("failed") is not True, r
    assert r["changed"] is False and r["created"] is False and r["args_configured"] == []
    assert not (tmp_path / "nope").exists()


def test_unreadable(run_module):
    """A file that exists but cannot be read. Tests run as root, which reads any file whatever
    its mode, so use one that no one can read from offset 0: /proc/self/mem (EIO)."""
    r = run_module(kernel_args.main, dict(path="/proc/self/mem", present=["fips=1"]))
    assert r["failed"] is True and "cannot read /proc/" in r["msg"]


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setattr(grub_cfg, "OEM_DIR", str(tmp_path / "oem"))
    monkeypatch.setattr(grub_cfg, "LEGACY_OEM_DIR", str(tmp_path / "usr/share/oem"))
    assert grub_cfg.default_path() == str(tmp_path / "usr/share/oem/grub.cfg")
    (tmp_path / "oem").mkdir()
    assert grub_cfg.default_path() == str(tmp_path / "oem/grub.cfg")
