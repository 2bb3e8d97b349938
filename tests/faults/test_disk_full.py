# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault class: disk full (a real tmpfs of a few pages, filled up).

With /etc/ssl full, openssl_fips used to leave a 0-byte openssl.cnf.pre-fips; a later successful
enable kept it because it "existed", and state=disabled then restored a 0-byte openssl.cnf.
Now every copy is written atomically and read back, and a bad copy left by an older version is
never restored.
"""

import glob
import os

from conftest import (
    assert_unchanged,
    grub_args,
    openssl_args,
    snapshot,
    sshd_args,
)
from luks_images import digest, image, kdfs

from ansible_collections.flatcar.fips.plugins.module_utils import files


def no_temp_files(directory):
    return [p for p in glob.glob(os.path.join(directory, ".*")) if not p.endswith(".filler")]


def test_openssl_full_disk_then_enable_and_disable(run, stable, mounts):
    with open(stable.openssl_cnf, "rb") as f:
        original = f.read()
    mounts.tmpfs(stable.ssl, "64k")
    filler = mounts.fill(stable.ssl)
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r.failed and "No space left on device" in r.msg, r.msg
    assert_unchanged(before, stable.root)
    assert not os.path.exists(stable.openssl_cnf + ".pre-fips")
    assert no_temp_files(stable.ssl) == []
    # space again: enable, then disable restores the original byte for byte
    os.unlink(filler)
    assert run("openssl_fips", openssl_args(stable), env=stable.env)["changed"]
    stable.assert_fips_active()
    run("openssl_fips", openssl_args(stable, state="disabled"), env=stable.env)
    with open(stable.openssl_cnf, "rb") as f:
        assert f.read() == original


def test_empty_pre_fips_from_an_older_version_is_replaced(run, stable):
    """The state an older version left behind: a 0-byte copy beside the original file."""
    with open(stable.openssl_cnf, "rb") as f:
        original = f.read()
    open(stable.openssl_cnf + ".pre-fips", "w").close()
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r["changed"] and any("it is empty" in w for w in r.warnings), r.result
    with open(stable.openssl_cnf + ".pre-fips", "rb") as f:
        assert f.read() == original
    run("openssl_fips", openssl_args(stable, state="disabled"), env=stable.env)
    with open(stable.openssl_cnf, "rb") as f:
        assert f.read() == original


def test_empty_pre_fips_after_enable_is_never_restored(run, stable):
    """Enabled by an older version that left a 0-byte copy: disable falls back to the
    distribution default instead of writing an empty openssl.cnf."""
    assert run("openssl_fips", openssl_args(stable), env=stable.env)["changed"]
    with open(stable.openssl_cnf + ".pre-fips", "wb"):
        pass
    off = run("openssl_fips", openssl_args(stable, state="disabled"), env=stable.env)
    assert off["actions"]["openssl_cnf"] == "restored_distribution_default", off.result
    assert any("it is empty" in w for w in off.warnings)
    with open(stable.openssl_cnf, "rb") as f:
        restored = f.read()
    with open(os.path.join(stable.root, "usr/share/flatcar/etc/ssl/openssl.cnf"), "rb") as f:
        assert restored == f.read() and restored
    assert not os.path.exists(stable.openssl_cnf + ".pre-fips")


def test_grub_full_disk(run, oem, mounts):
    oem_dir, cmdline = oem
    mounts.tmpfs(str(oem_dir), "16k")
    mounts.fill(str(oem_dir))
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r.failed and "No space left on device" in r.msg and "grub.cfg" in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))
    assert no_temp_files(str(oem_dir)) == []


def test_sshd_full_disk(run, sshd_tree, mounts):
    layout = sshd_tree("before_include")  # drop-in and main file both to be written
    mounts.tmpfs(layout.ssh, "64k")
    mounts.fill(layout.ssh)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and "No space left on device" in r.msg, r.msg
    assert_unchanged(before, layout.root)


def test_luks_header_backup_on_a_full_disk(run, tmp_path, mounts):
    device = image(str(tmp_path / "argon2id.img"))
    before = digest(device)
    backups = str(tmp_path / "backups")
    mounts.tmpfs(backups, "16k")
    mounts.fill(backups)
    r = run("luks_pbkdf", dict(state="pbkdf2", device=device, passphrase="alpha",
                               header_backup=os.path.join(backups, "h"),
                               pbkdf_iterations=1000))
    assert r.failed and "Nothing was changed" in r.msg, r.msg
    assert digest(device) == before and kdfs(device) == {"0": "argon2id"}
    assert sorted(os.listdir(backups)) == [".filler"]


def test_copy_verified_never_leaves_a_torn_copy(tmp_path, mounts):
    """The primitive under every backup and .pre-fips copy, on a disk that fills up halfway."""
    d = mounts.tmpfs(str(tmp_path / "small"), "16k")
    data = b"x" * 64 * 1024
    try:
        files.copy_verified(data, os.path.join(d, "copy"))
    except files.FileError as e:
        assert "No space left on device" in str(e)
    assert os.listdir(d) == []
