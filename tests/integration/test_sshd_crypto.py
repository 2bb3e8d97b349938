# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.sshd_crypto through a real ansible-playbook, judged by a real sshd on
127.0.0.1, a real OpenSSH client and ssh-audit in policy mode."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import ssh_audit_policy
from sshd_layouts import Layout, sshd

TASK = "Only FIPS-approved sshd algorithms"
SSH_AUDIT = os.path.join(os.path.dirname(sys.executable), "ssh-audit")


def ssh(port, key, *options):
    cmd = ["ssh", "-F", "/dev/null", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
           "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20", *options,
           "root@127.0.0.1", "echo", "connected"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def fips_policy(path):
    return ssh_audit_policy.write(path)


def ssh_audit(port, policy):
    proc = subprocess.run([SSH_AUDIT, "-j", "-P", policy, "-p", str(port), "127.0.0.1"],
                          capture_output=True, text=True, check=False, timeout=120)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ssh-audit printed no JSON (rc=%d): %s %s"
                    % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, report


def digest_tree(root):
    state = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            if name.startswith("sshd-") and name.endswith(".log"):
                continue
            if os.path.islink(path):
                state[path] = ("link", os.readlink(path))
            else:
                with open(path, "rb") as f:
                    state[path] = hashlib.sha256(f.read()).hexdigest()
    return state


@pytest.fixture
def lts(tmp_path, keys):
    return Layout(str(tmp_path / "lts"), "lts", keys)


def run(playbook, layout, check=False, diff=False, **extra):
    return playbook("sshd_crypto.yml", dict(root=layout.root, **extra), check=check, diff=diff)


def test_lts_layout_end_to_end(playbook, lts, keys, tmp_path):
    client = keys.path("client_ecdsa")
    policy = fips_policy(str(tmp_path / "fips-policy.txt"))
    # before: chacha20 is negotiated and the policy check fails, so it is not vacuous
    with sshd(lts) as port:
        chacha = ssh(port, client, "-o", "Ciphers=chacha20-poly1305@openssh.com")
        assert chacha.returncode == 0 and "connected" in chacha.stdout, chacha.stderr
        rc, report = ssh_audit(port, policy)
        assert rc != 0 and report["passed"] is False

    before = digest_tree(lts.root)
    check = run(playbook, lts, check=True)
    assert check.rc == 0, check.stdout
    assert digest_tree(lts.root) == before, "check mode changed files"
    predicted = check.task(TASK)
    assert predicted["changed"] is True

    apply = run(playbook, lts)
    assert apply.rc == 0, apply.stdout
    done = apply.task(TASK)
    for key in ("changed", "files_changed", "effective", "removed", "main_config_fixed"):
        assert predicted[key] == done[key], key
    assert "chacha20-poly1305@openssh.com" in done["removed"]["Ciphers"]
    assert done["reload_required"] is True  # socket_activated: false in the playbook

    with sshd(lts) as port:
        gcm = ssh(port, client, "-c", "aes256-gcm@openssh.com")
        assert gcm.returncode == 0 and "connected" in gcm.stdout, gcm.stderr
        chacha = ssh(port, client, "-o", "Ciphers=chacha20-poly1305@openssh.com")
        assert chacha.returncode != 0
        assert "no matching cipher found" in chacha.stderr
        curve = ssh(port, client, "-o", "KexAlgorithms=curve25519-sha256")
        assert curve.returncode != 0 and "no matching key exchange method" in curve.stderr
        ed_only = ssh(port, keys.path("client_ed25519"))
        assert ed_only.returncode != 0  # not authorized, and ed25519 is not accepted
        rc, report = ssh_audit(port, policy)
        assert rc == 0 and report["passed"] is True, report.get("errors")

    again = run(playbook, lts)
    assert again.rc == 0 and again.task(TASK)["changed"] is False


def test_diff_and_absent_restore(playbook, tmp_path, keys):
    layout = Layout(str(tmp_path / "legacy"), "legacy", keys)
    original = digest_tree(layout.root)
    applied = run(playbook, layout, diff=True)
    assert applied.rc == 0, applied.stdout
    assert "+Ciphers aes256-gcm@openssh.com" in applied.stdout
    assert "+Include %s" % layout.drop_in in applied.stdout
    removed = run(playbook, layout, state="absent")
    assert removed.rc == 0 and removed.task(TASK)["changed"] is True
    assert digest_tree(layout.root) == original
    with sshd(layout) as port:
        chacha = ssh(port, keys.path("client_ecdsa"), "-o",
                     "Ciphers=chacha20-poly1305@openssh.com")
        assert chacha.returncode == 0, chacha.stderr


def test_unknown_keyword_fails_and_writes_nothing(playbook, lts):
    with open(os.path.join(lts.dropin_dir, "10-custom.conf"), "w") as f:
        f.write("# a local drop-in\nNoSuchOption yes\n")
    before = digest_tree(lts.root)
    result = run(playbook, lts)
    assert result.rc != 0
    msg = result.task(TASK)["msg"]
    assert "10-custom.conf line 2" in msg and "NoSuchOption" in msg
    assert digest_tree(lts.root) == before


def test_missing_sshd(playbook, lts):
    before = digest_tree(lts.root)
    result = run(playbook, lts, sshd_path=os.path.join(lts.root, "usr/sbin/sshd"))
    assert result.rc != 0 and "sshd was not found" in result.task(TASK)["msg"]
    assert digest_tree(lts.root) == before
