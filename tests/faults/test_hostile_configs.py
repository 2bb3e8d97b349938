# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault class: hostile but valid configurations, and the reasons given for what goes wrong.

* Several Match blocks of one file override key algorithms: every one must be rewritten (each
  rewrite used to start from the same snapshot, so only the last survived), and the check after
  writing must look at every Match scope, not only the default connection specs.
* An included file re-activates OpenSSL's default provider: with fips=yes as the default
  property MD5 stays refused, so only the real list of active providers shows it.
* Include cycles; LUKS re-runs after a partial conversion; a header restore that fails.
"""

import os

import pytest
from conftest import (
    assert_unchanged,
    effective_sshd,
    openssl_args,
    snapshot,
    sshd_args,
)
from luks_images import add_key, digest, image, kdfs, opens

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms

MATCH_BLOCKS = """
Match User alice
\tPubkeyAcceptedAlgorithms ssh-ed25519,ecdsa-sha2-nistp256
Match Address 10.0.0.0/8
\tPubkeyAcceptedAlgorithms ssh-ed25519
Match Group root
\tCASignatureAlgorithms ssh-ed25519,ecdsa-sha2-nistp384
"""
# The connections each block applies to (sshd -T -C), as a real client would be matched.
SPECS = {"alice": "user=alice,host=h,addr=127.0.0.1",
         "10/8": "user=core,host=h,addr=10.1.2.3",
         "group root": "user=root,host=h,addr=127.0.0.1"}


def test_every_match_block_is_rewritten_and_verified(run, sshd_tree):
    layout = sshd_tree()
    with open(layout.main, "a") as f:
        f.write(MATCH_BLOCKS)
    before = {name: effective_sshd(layout.main, spec) for name, spec in SPECS.items()}
    assert "ssh-ed25519" in before["alice"]["pubkeyacceptedalgorithms"]
    assert "ssh-ed25519" in before["10/8"]["pubkeyacceptedalgorithms"]
    r = run("sshd_crypto", sshd_args(layout))
    assert r["changed"] and not r.failed, r.msg
    fixed = " ".join(r["main_config_fixed"])
    assert fixed.count("in a Match block") == 3, r["main_config_fixed"]
    for name, spec in SPECS.items():  # the real sshd, for a connection each block matches
        eff = effective_sshd(layout.main, spec)
        for keyword in algorithms.MATCH_KEYWORDS:
            values = eff[keyword.lower()].split(",")
            assert not algorithms.unapproved(keyword, values), (name, keyword, values)
    assert not run("sshd_crypto", sshd_args(layout))["changed"]


def test_match_block_in_an_include_is_verified(run, sshd_tree):
    layout = sshd_tree()
    with open(os.path.join(layout.dropin_dir, "60-users.conf"), "w") as f:
        f.write("Match User bob\n\tPubkeyAcceptedAlgorithms +ssh-ed25519\n")
    r = run("sshd_crypto", sshd_args(layout))
    assert r["changed"], r.msg
    eff = effective_sshd(layout.main, "user=bob,host=h,addr=127.0.0.1")
    assert "ssh-ed25519" not in eff["pubkeyacceptedalgorithms"]


def test_include_cycle_is_refused(run, sshd_tree):
    layout = sshd_tree()
    with open(os.path.join(layout.dropin_dir, "70-loop.conf"), "w") as f:
        f.write("Include %s/*.conf\n" % layout.dropin_dir)
    before = snapshot(layout.root)
    r = run("sshd_crypto", sshd_args(layout))
    assert r.failed and "nested too deeply" in r.msg and "70-loop.conf" in r.msg, r.msg
    assert_unchanged(before, layout.root)


REACTIVATE_DEFAULT = """
[provider_sect]
default = default_sect_again

[default_sect_again]
activate = 1
"""


def test_default_provider_reactivated_by_an_include_is_refused(run, stable):
    extra = os.path.join(stable.ssl, "vendor.cnf")
    with open(extra, "w") as f:
        f.write(REACTIVATE_DEFAULT)
    with open(stable.openssl_cnf, "a") as f:
        f.write("\n.include %s\n" % extra)
    before = snapshot(stable.root)
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r.failed and "providers other than fips and base are active: default" in r.msg, r.msg
    assert_unchanged(before, stable.root)


def test_luks_rerun_after_partial_conversion_is_no_change(run, tmp_path):
    device = image(str(tmp_path / "two.img"))  # slot 0: alpha, argon2id
    add_key(device, b"alpha", b"bravo")  # slot 1: bravo, argon2id
    args = dict(state="pbkdf2", device=device, passphrase="alpha", pbkdf_iterations=1000,
                header_backup=str(tmp_path / "h"))
    first = run("luks_pbkdf", args)
    assert first["changed"] and kdfs(device) == {"0": "pbkdf2", "1": "argon2id"}
    again = run("luks_pbkdf", dict(args, header_backup=str(tmp_path / "h2")))
    assert not again.failed and not again["changed"], again.msg
    assert again["non_pbkdf2"] == {device: ["1"]}
    assert "keyslot 0" in again["msg"] and "1 still use argon2" in again["msg"]
    assert not os.path.exists(str(tmp_path / "h2"))
    wrong = run("luks_pbkdf", dict(args, passphrase="nope"))
    assert wrong.failed and "does not open any keyslot" in wrong.msg


def test_luks_failed_restore_is_said(run, tmp_path, mounts):
    """The conversion fails (the device is on a read-only mount) and so does the restore: the
    message says the restore failed, and what the device holds now (read back)."""
    disks = tmp_path / "disks"
    disks.mkdir()
    device = image(str(disks / "argon2id.img"))
    before = digest(device)
    mounts.readonly(str(disks))
    r = run("luks_pbkdf", dict(state="pbkdf2", device=device, passphrase="alpha",
                               pbkdf_iterations=1000, header_backup=str(tmp_path / "h")))
    assert r.failed, r.result
    assert "restoring the header" in r.msg and "failed as well" in r.msg, r.msg
    assert "reads back unchanged" in r.msg and "the header was restored" not in r.msg
    assert digest(device) == before and opens(device, b"alpha")


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_luks_wrong_key_changes_nothing(run, tmp_path, check):
    device = image(str(tmp_path / "a.img"))
    before = digest(device)
    r = run("luks_pbkdf", dict(state="pbkdf2", device=device, passphrase="wrong",
                               header_backup=str(tmp_path / "h")), check=check)
    assert r.failed and "Nothing was changed" in r.msg
    assert digest(device) == before and not os.path.exists(str(tmp_path / "h"))
