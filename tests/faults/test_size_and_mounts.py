# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault classes: size, permissions and read-only mounts.

An oversized "configuration file" is refused before it is read into memory; an empty one is a
valid starting point. A read-only file system (a real bind mount) fails the task with the path
and the cause and nothing changed, while check mode still predicts. A file the module's user
may not read is a fact ("Permission denied"), never a crash or a false value.
"""

import os

import pytest
from conftest import (
    assert_unchanged,
    grub_args,
    grub_reads,
    openssl_args,
    snapshot,
    sshd_args,
)

BIG = 64 * 1024 * 1024  # sparse: costs nothing on disk


def sparse(path, size=BIG):
    with open(path, "ab") as f:
        f.truncate(size)


def test_oversized_grub_cfg_is_refused(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    sparse(path)
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r.failed and "more than" in r.msg and path in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))
    facts = run("fips_facts", dict(gather=["kernel"], grub_cfg=path, proc_cmdline=cmdline))
    assert "more than" in facts["ansible_facts"]["flatcar_fips"]["errors"][
        "kernel.configured_args"]


def test_oversized_openssl_cnf_and_sshd_include_are_refused(run, stable, sshd_tree):
    sparse(stable.openssl_cnf)
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r.failed and "more than" in r.msg and stable.openssl_cnf in r.msg, r.msg
    assert_unchanged(before, stable.root)
    layout = sshd_tree()
    sparse(os.path.join(layout.dropin_dir, "20-big.conf"))
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and "20-big.conf" in r.msg and "more than" in r.msg, r.msg
    assert_unchanged(before, layout.root)


def test_empty_grub_cfg_converges(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    open(path, "w").close()
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r["changed"]
    assert grub_reads(path) == ["fips=1"]


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_read_only_oem(run, oem, mounts, check):
    oem_dir, cmdline = oem
    mounts.readonly(str(oem_dir))
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline), check=check)
    if check:  # check mode reads only: it predicts the change
        assert not r.failed and r["changed"]
    else:
        assert r.failed and "Read-only file system" in r.msg and str(oem_dir) in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_read_only_etc_ssl(run, stable, mounts, check):
    mounts.readonly(stable.ssl)
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(stable), env=stable.env, check=check)
    if check:
        assert not r.failed and r["changed"] and r["provider_active"]
    else:
        assert r.failed and "Read-only file system" in r.msg and stable.ssl in r.msg, r.msg
    assert_unchanged(before, stable.root)


def test_read_only_etc_ssh(run, sshd_tree, mounts):
    layout = sshd_tree()
    mounts.readonly(layout.ssh)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and "Read-only file system" in r.msg and layout.dropin_dir in r.msg, r.msg
    assert_unchanged(before, layout.root)


def test_unreadable_for_the_user_is_a_reason(run, oem):
    """fips_facts without the right to read a file (root without CAP_DAC_OVERRIDE, as a user
    whose become was declined would be): a reason, and the fact is unknown, not false."""
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o600)
    no_dac = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
              "--inh-caps=-dac_override,-dac_read_search"]
    r = run("fips_facts", dict(gather=["kernel"], grub_cfg=path, proc_cmdline=cmdline),
            wrap=no_dac)
    facts = r["ansible_facts"]["flatcar_fips"]
    assert "Permission denied" in facts["errors"]["kernel.configured_args"]
    assert facts["kernel"]["fips_configured"] is None
    refused = run("kernel_args", grub_args(oem_dir, cmdline), wrap=no_dac)
    assert refused.failed and "Permission denied" in refused.msg and path in refused.msg
