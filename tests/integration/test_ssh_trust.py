# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-key lockout, reproduced and prevented, with real parts only: ansible-playbook
connecting over a real ssh connection with host key checking on (Ansible's default) to a real
sshd on 127.0.0.1, whose configuration is a Flatcar-shaped tree that flatcar.fips.sshd_crypto
switches to FIPS algorithms. sshd is socket-activated as on Flatcar (one sshd -i per
connection), so the connection after the switch meets the new host key algorithms. The
controller's known-hosts file holds only the host's ed25519 key, as it does for a fleet whose
keys were recorded with OpenSSH's default preference."""

import json
import os
import shutil
import subprocess

import pytest
from sshd_layouts import Layout, socket_activated_sshd

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, "playbooks", "ssh_trust.yml")
TRUST = "Will the controller still verify the host, and still log in?"
PING = "A fresh connection"
OTHER_HOST = ("other.example.com ssh-ed25519 "
              "AAAAC3NzaC1lZDI1NTE5AAAAIOTHERHOSTKEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")


@pytest.fixture
def layout(tmp_path, keys):
    return Layout(str(tmp_path / "stable"), "stable", keys)


def known_hosts(tmp_path, port, keys, *names):
    """A known-hosts file for [127.0.0.1]:PORT holding the given host keys (and another host's
    line, which must survive byte for byte)."""
    path = tmp_path / "known_hosts"
    lines = [OTHER_HOST]
    for name in names:
        with open(keys.path(name) + ".pub") as f:
            key = " ".join(f.read().split()[:2])
        lines.append("[127.0.0.1]:%d %s\n" % (port, key))
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path


def run(tmp_path, ansible_env, port, kh, client, check=False, diff=False, **extra):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"target": {
        "ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "root",
        "ansible_ssh_private_key_file": client,
        # host key checking stays on (Ansible's default); only the file is the test's
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o ConnectTimeout=20" % kh,
    }}}}))
    results = tmp_path / "results.json"
    if results.exists():
        results.unlink()
    cmd = ["ansible-playbook", "-i", str(inventory), PLAYBOOK, "-e", json.dumps(extra)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    env = ansible_env(ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                      ANSIBLE_CALLBACKS_ENABLED="record_results", RECORD_RESULTS=str(results),
                      ANSIBLE_PIPELINING="1", ANSIBLE_HOST_KEY_CHECKING="1",
                      ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"))
    env.pop("SSH_AUTH_SOCK", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert results.exists(), proc.stdout + proc.stderr
    return proc, json.loads(results.read_text())


def strict_ssh(port, kh, client):
    """A fresh OpenSSH client with strict host key checking against the same file."""
    return subprocess.run(
        ["ssh", "-i", client, "-p", str(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=%s" % kh,
         "root@127.0.0.1", "echo", "verified"],
        capture_output=True, text=True, check=False, timeout=60)


def test_lockout_reproduced_without_the_check(tmp_path, ansible_env, layout, keys):
    """What happened to the role before ssh_trust: sshd switched, the next connection fails host
    key verification and the host is unreachable. The check, run first, says so."""
    client = keys.path("client_ecdsa")
    with socket_activated_sshd(layout) as port:
        kh = known_hosts(tmp_path, port, keys, "host_ed25519")
        proc, out = run(tmp_path, ansible_env, port, kh, client, switch=True, root=layout.root)
        assert proc.returncode == 4, proc.stdout + proc.stderr
        trust = out[TRUST]["target"]
        assert trust["host_key"]["status"] == "fail"
        assert "only by ssh-ed25519" in trust["host_key"]["reason"]
        assert str(kh) in trust["host_key"]["reason"]
        ping = out[PING]["target"]
        assert ping.get("unreachable"), ping
        assert "Host key verification failed" in ping["msg"], ping["msg"]


def test_learn_then_switch_keeps_the_controller_in(tmp_path, ansible_env, layout, keys):
    client = keys.path("client_ecdsa")
    with socket_activated_sshd(layout) as port:
        kh = known_hosts(tmp_path, port, keys, "host_ed25519")
        before = kh.read_bytes()

        # check mode predicts the learning, writes nothing
        proc, out = run(tmp_path, ansible_env, port, kh, client, check=True, diff=True,
                        learn=True, root=layout.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        trust = out[TRUST]["target"]
        assert trust["changed"] is True
        assert trust["host_key"]["status_before"] == "fail"
        assert trust["host_key"]["status"] == "pass"
        assert trust["host_key"]["learned"] == [k["public_key"] for k in
                                                out["Read sshd's host keys and the user's keys "
                                                    "over the authenticated connection"]
                                                ["target"]["ansible_facts"]["flatcar_fips"]
                                                ["sshd"]["host_keys"] if k["fips_usable"]]
        assert "ecdsa-sha2-nistp256" in trust["diff"]["after"]
        assert kh.read_bytes() == before

        # learn, switch, connect again: the fresh connection verifies the ECDSA key
        proc, out = run(tmp_path, ansible_env, port, kh, client, learn=True, switch=True,
                        root=layout.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out[TRUST]["target"]["changed"] is True
        assert out[PING]["target"]["ping"] == "pong"
        text = kh.read_text()
        assert text.startswith(before.decode()), "lines already there were not kept as they were"
        assert oct(kh.stat().st_mode & 0o777) == "0o600"
        verified = strict_ssh(port, kh, client)
        assert verified.returncode == 0 and "verified" in verified.stdout, verified.stderr

        # idempotent: nothing more to learn
        proc, out = run(tmp_path, ansible_env, port, kh, client, learn=True, root=layout.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out[TRUST]["target"]["changed"] is False
        assert out[TRUST]["target"]["host_key"]["status"] == "pass"
        assert kh.read_text() == text

        # remove the stale ed25519 line only (the other host's line stays)
        proc, out = run(tmp_path, ansible_env, port, kh, client, remove_stale=True,
                        root=layout.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        removed = out[TRUST]["target"]["host_key"]["removed"]
        assert [r["type"] for r in removed] == ["ssh-ed25519"]
        after = kh.read_text()
        assert after.startswith(OTHER_HOST)
        assert "ssh-ed25519" not in after.replace(OTHER_HOST, "")
        assert strict_ssh(port, kh, client).returncode == 0


def test_host_key_checking_off_is_a_pass(tmp_path, ansible_env, layout, keys):
    client = keys.path("client_ecdsa")
    with socket_activated_sshd(layout) as port:
        kh = known_hosts(tmp_path, port, keys, "host_ed25519")
        proc, out = run(tmp_path, ansible_env, port, kh, client,
                        root=layout.root, ansible_ssh_extra_args="-o StrictHostKeyChecking=no")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        host_key = out[TRUST]["target"]["host_key"]
        assert host_key["status"] == "pass"
        assert "StrictHostKeyChecking=no" in host_key["reason"]


def test_client_keys(tmp_path, ansible_env, layout, keys):
    """The key Ansible connects with, without a .pub beside it: found through ssh-keygen -y,
    FIPS-usable and in the user's authorized keys (matched by fingerprint). A key with a
    passphrase and no .pub (unknown) is in tests/unit/controller/test_known_hosts.py: Ansible
    could not connect with it here without an agent."""
    with socket_activated_sshd(layout) as port:
        kh = known_hosts(tmp_path, port, keys, "host_ecdsa")
        bare = tmp_path / "bare_ecdsa"
        shutil.copy(keys.path("client_ecdsa"), bare)
        bare.chmod(0o600)
        proc, out = run(tmp_path, ansible_env, port, kh, str(bare), root=layout.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        client = out[TRUST]["target"]["client_key"]
        assert client["status"] == "pass", client
        assert client["candidates"][0]["source"] == str(bare)
        assert out[TRUST]["target"]["host_key"]["status"] == "pass"
