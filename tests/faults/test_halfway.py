# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault class: a failure in the middle of a multi-write task (injected with a read-only mount
on the directory of a later write).

The task used to leave its earlier writes on disk (openssl.cnf rewritten and its .pre-fips copy
made, then the /etc/system-fips marker failed; the sshd drop-in written, then the main file
failed). Now every write of the task is rolled back, newest first, and the message says so.
"""

import os

from conftest import (
    assert_unchanged,
    effective_sshd,
    openssl_args,
    snapshot,
    sshd_args,
)


def test_openssl_marker_fails_after_openssl_cnf(run, stable, mounts, tmp_path):
    marker_dir = tmp_path / "marker"
    marker_dir.mkdir()
    mounts.readonly(str(marker_dir))
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(
        stable, system_fips_path=str(marker_dir / "system-fips")), env=stable.env)
    assert r.failed and "Read-only file system" in r.msg, r.msg
    assert "Rolled back" in r.msg and stable.openssl_cnf in r["rolled_back"], r.result
    assert stable.openssl_cnf + ".pre-fips" in r["rolled_back"]
    assert r["files_changed"] == []
    assert_unchanged(before, stable.root)
    # the real consumer agrees: OpenSSL is not in FIPS mode under the restored file
    assert stable.openssl("dgst", "-md5").returncode == 0


def test_openssl_lts_guard_fails_after_everything_else(run, lts, mounts):
    """LTS: fipsmodule.cnf generated, the openssl.cnf symlink replaced, the marker created, then
    the update guard's unit cannot be written: all of it is undone, the symlink comes back."""
    systemd = os.path.join(lts.root, "etc/systemd/system")
    os.makedirs(systemd)
    mounts.readonly(systemd)
    before = snapshot(lts.root)
    r = run("openssl_fips", openssl_args(lts), env=lts.env)
    assert r.failed and "Read-only file system" in r.msg, r.msg
    for path in (lts.openssl_cnf, lts.fipsmodule_cnf, os.path.join(lts.root, "etc/system-fips"),
                 lts.guard):
        assert path in r["rolled_back"], (path, r["rolled_back"])
    assert_unchanged(before, lts.root)
    assert os.path.islink(lts.openssl_cnf)


def test_sshd_main_file_fails_after_the_drop_in(run, sshd_tree, mounts):
    """The drop-in directory is writable, the main file's directory is not."""
    layout = sshd_tree("before_include")
    mounts.readonly(layout.ssh, keep_writable=[layout.dropin_dir])
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed, r.result
    assert layout.drop_in in r["rolled_back"], r.result
    assert "Rolled back" in r.msg
    assert_unchanged(before, layout.root)
    eff = effective_sshd(layout.main)
    assert "chacha20-poly1305@openssh.com" in eff["ciphers"]  # as it was


def test_sshd_rollback_restores_the_generated_host_key_too(run, sshd_tree, mounts):
    """ed25519-only host keys: generate_host_keys creates an ECDSA key, then the drop-in
    cannot be written; the generated key is removed again."""
    layout = sshd_tree(host_keys=("host_ed25519",))
    mounts.readonly(layout.dropin_dir)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout, generate_host_keys=True))
    assert r.failed and "Read-only file system" in r.msg, r.msg
    key = os.path.join(layout.ssh, "ssh_host_ecdsa_key")
    assert key in r["rolled_back"] and not os.path.exists(key)
    assert_unchanged(before, layout.root)
    # sshd as it was: the ed25519 key is still its only host key
    assert effective_sshd(layout.main)["hostkey"].endswith("ssh_host_ed25519_key")
