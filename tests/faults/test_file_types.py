# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault class: something other than a regular file where a file belongs.

A FIFO used to block a module forever (fips_facts included); a directory, a device, a dangling
link or a symlink loop must be refused with the path and what it is, with every file as it was.
"""

import os

import pytest
from conftest import (
    assert_unchanged,
    fifo,
    grub_args,
    openssl_args,
    snapshot,
    sshd_args,
)

KINDS = ("fifo", "directory", "device", "loop")
WORDS = {"fifo": "FIFO", "directory": "directory", "device": "character device",
         "loop": "symlink loop"}


def plant(path, kind):
    """Put a ``kind`` where the file ``path`` is."""
    if os.path.lexists(path):
        os.unlink(path)
    if kind == "fifo":
        fifo(path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "device":
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero: endless
    elif kind == "loop":
        os.symlink(os.path.basename(path) + ".loop", path)
        os.symlink(os.path.basename(path), path + ".loop")


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
@pytest.mark.parametrize("kind", KINDS)
def test_kernel_args_grub_cfg(run, oem, kind, check):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    plant(path, kind)
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline), check=check)
    assert r.failed and r.duration < 10
    assert "grub.cfg" in r.msg and WORDS[kind] in r.msg and "Nothing was changed" in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))


def test_kernel_args_dangling_link_is_refused(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    os.unlink(path)
    os.symlink("nowhere/grub.cfg", path)
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r.failed and "dangling symlink" in r.msg and path in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))


@pytest.mark.parametrize("kind", KINDS)
def test_fips_facts_grub_cfg_is_unknown_not_absent(run, oem, kind):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    plant(path, kind)
    r = run("fips_facts", dict(gather=["kernel"], grub_cfg=path, proc_cmdline=cmdline))
    assert not r.failed and r.duration < 10
    facts = r["ansible_facts"]["flatcar_fips"]
    assert facts["kernel"]["configured_args"] is None  # unknown: not "fips=1 is absent"
    assert facts["kernel"]["fips_configured"] is None
    assert WORDS[kind] in facts["errors"]["kernel.configured_args"]


@pytest.mark.parametrize(("which", "kind"), [
    ("openssl_cnf", "fifo"), ("openssl_cnf", "directory"), ("openssl_cnf", "device"),
    ("fipsmodule_cnf", "fifo"), ("fipsmodule_cnf", "directory"), ("fipsmodule_cnf", "device"),
    # an included directory is valid OpenSSL (its *.cnf files are read): see below
    ("included", "fifo"), ("included", "device"), ("included_dir", "fifo")])
def test_openssl_fips_refuses(run, stable, which, kind):
    target = {"openssl_cnf": stable.openssl_cnf, "fipsmodule_cnf": stable.fipsmodule_cnf,
              "included": os.path.join(stable.ssl, "extra.cnf"),
              "included_dir": os.path.join(stable.ssl, "conf.d", "10-extra.cnf")}[which]
    if which.startswith("included"):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(stable.openssl_cnf, "a") as f:
            included = target if which == "included" else os.path.dirname(target)
            f.write("\n.include %s\n" % included)
    plant(target, kind)
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r.failed and r.duration < 15, r.msg
    assert target in r.msg and WORDS[kind] in r.msg, r.msg
    assert_unchanged(before, stable.root)


@pytest.mark.parametrize("which", ["openssl_cnf", "included", "fipsmodule_cnf"])
def test_fips_facts_openssl_fifo(run, stable, which):
    target = {"openssl_cnf": stable.openssl_cnf, "fipsmodule_cnf": stable.fipsmodule_cnf,
              "included": os.path.join(stable.ssl, "extra.cnf")}[which]
    if which == "included":
        with open(stable.openssl_cnf, "a") as f:
            f.write("\n.include %s\n" % target)
    fifo(target)
    r = run("fips_facts", dict(gather=["openssl"], openssl_cnf=stable.openssl_cnf,
                               fipsmodule_cnf=stable.fipsmodule_cnf, module=stable.module),
            env=stable.env)
    assert not r.failed and r.duration < 15
    facts = r["ansible_facts"]["flatcar_fips"]
    assert any("FIFO" in v for v in facts["errors"].values()), facts["errors"]
    assert facts["openssl"]["provider_active"] is not True


@pytest.mark.parametrize("kind", ["fifo", "device", "loop"])
def test_sshd_crypto_included_file(run, sshd_tree, kind):
    layout = sshd_tree()
    plant(os.path.join(layout.dropin_dir, "10-extra.conf"), kind)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and r.duration < 15
    assert "10-extra.conf" in r.msg and WORDS[kind] in r.msg, r.msg
    assert_unchanged(before, layout.root)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_sshd_crypto_drop_in_path_is_not_a_file(run, sshd_tree, kind):
    """Was refused as "still offers algorithms that are not FIPS-approved"."""
    layout = sshd_tree()
    plant(layout.drop_in, kind)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and r.msg.startswith("drop_in:"), r.msg
    assert layout.drop_in in r.msg and WORDS[kind] in r.msg, r.msg
    assert "not FIPS-approved" not in r.msg
    assert_unchanged(before, layout.root)


def test_fips_facts_sshd_include_fifo(run, sshd_tree):
    layout = sshd_tree()
    fifo(os.path.join(layout.dropin_dir, "10-extra.conf"))
    r = run("fips_facts", dict(gather=["sshd"], sshd_config=layout.main,
                               passwd_file=layout.passwd))
    assert not r.failed and r.duration < 15
    facts = r["ansible_facts"]["flatcar_fips"]
    assert "FIFO" in facts["errors"]["sshd.config"]
    assert facts["sshd"]["effective"] is None


def test_luks_fifo_device(run, tmp_path):
    device = fifo(str(tmp_path / "disk"))
    audit = run("luks_pbkdf", dict(devices=[device]))
    assert not audit.failed and "FIFO" in audit["unreadable"][device]
    convert = run("luks_pbkdf", dict(state="pbkdf2", device=device, passphrase="x"))
    assert convert.failed and device in convert.msg and "FIFO" in convert.msg
    facts = run("fips_facts", dict(gather=["luks"], luks_devices=[device]))
    assert "FIFO" in facts["ansible_facts"]["flatcar_fips"]["luks"]["unreadable"][device]
