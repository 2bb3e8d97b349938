# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of SSH trust (plugin_utils/known_hosts.py, the ssh_trust action's
client-key judgement) with the real OpenSSH client programs: ``ssh -G`` resolves the options,
``ssh-keygen -F`` matches the lines, our hashed names must be the ones OpenSSH finds."""

import os
import subprocess

from ansible_collections.flatcar.fips.plugins.action.ssh_trust import client_key
from ansible_collections.flatcar.fips.plugins.module_utils import ssh_keys
from ansible_collections.flatcar.fips.plugins.plugin_utils import known_hosts as kh


def pub(keys, name):
    with open(keys.path(name) + ".pub") as f:
        return " ".join(f.read().split()[:2])


def config(tmp_path, *args, host="192.0.2.10"):
    return kh.client_config("ssh", ["-F", "/dev/null", *args], host)


def test_options_resolve_as_openssh_does(tmp_path):
    kf = str(tmp_path / "kh")
    # Ansible's order: ssh_args, host_key_checking, port, key, user, common, extra; first wins
    args = kh.client_args(ssh_args="-C -o ControlMaster=auto", host_key_checking=True, port=2222,
                          private_key_file="~/k", user="core",
                          common_args="-o UserKnownHostsFile=%s -o HashKnownHosts=no" % kf,
                          extra_args="-o StrictHostKeyChecking=accept-new")
    cfg = config(tmp_path, *args)
    assert kh.lookup_name(cfg) == "[192.0.2.10]:2222"
    assert kh.known_hosts_files(cfg)[0] == kf
    assert kh.strict_checking(cfg) == "accept-new"
    assert cfg["user"] == "core"
    assert os.path.expanduser("~/k") in cfg["identityfile"]
    # host_key_checking=False comes before the user's arguments, and wins
    cfg = config(tmp_path, *kh.client_args(host_key_checking=False,
                                           common_args="-o StrictHostKeyChecking=yes"))
    assert kh.strict_checking(cfg) == "no"
    # HostKeyAlias is the name looked up, whatever the port
    cfg = config(tmp_path, *kh.client_args(port=2222, common_args="-o HostKeyAlias=node1"))
    assert kh.lookup_name(cfg) == "node1"


def test_our_hashed_lines_are_found_by_ssh_keygen(tmp_path, keys):
    path = tmp_path / "known_hosts"
    path.write_text("# managed elsewhere\nother.example.com %s\n" % pub(keys, "host_ed25519"))
    path.chmod(0o644)
    name = "[192.0.2.10]:2222"
    before, after = kh.update(str(path), name, add=[pub(keys, "host_ecdsa")], hashed=True)
    assert after.startswith(before)
    assert oct(path.stat().st_mode & 0o777) == "0o644", "the file's mode is kept"
    found = kh.lookup("ssh-keygen", name, [str(path)])
    assert [(e["type"], e["line"]) for e in found] == [("ecdsa-sha2-nistp256", 3)]
    assert found[0]["hosts"].startswith("|1|")
    # learning again adds nothing (the hashed line is recognised)
    again = kh.update(str(path), name, add=[pub(keys, "host_ecdsa")], hashed=True)
    assert again[0] == again[1]
    # check mode computes, writes nothing; a new file is created 0600
    fresh = tmp_path / "sub" / "known_hosts"
    _b, a = kh.update(str(fresh), name, add=[pub(keys, "host_ecdsa")], check_mode=True)
    assert a and not fresh.exists()
    kh.update(str(fresh), name, add=[pub(keys, "host_ecdsa")])
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"
    assert fresh.read_text() == "%s %s\n" % (name, pub(keys, "host_ecdsa"))


def test_remove_only_named_lines(tmp_path, keys):
    path = tmp_path / "known_hosts"
    ed = pub(keys, "host_ed25519")
    path.write_text("a,b %s\nh %s\nh %s\n" % (ed, ed, pub(keys, "host_ecdsa")))
    found = kh.lookup("ssh-keygen", "h", [str(path)])
    stale = [e for e in found if e["type"] == "ssh-ed25519" and kh.is_single_host(e["hosts"])]
    kh.update(str(path), "h", remove=[e["text"] for e in stale])
    assert path.read_text() == "a,b %s\nh %s\n" % (ed, pub(keys, "host_ecdsa"))
    assert not kh.is_single_host("a,b") and not kh.is_single_host("*.example.com")


def entry(keys, name, marker=None):
    info = ssh_keys.describe(pub(keys, name))
    return dict(file="/kh", line=1, marker=marker, hosts="h", type=info["type"],
                public_key=info["public_key"], fingerprint=info["fingerprint"],
                fips_usable=info["fips_usable"])


def test_judge(keys):
    ed, ec = entry(keys, "host_ed25519"), entry(keys, "host_ecdsa")
    offered = [ec["public_key"]]
    ask = {"hostname": "h", "port": "22", "stricthostkeychecking": "ask",
           "userknownhostsfile": "/kh"}
    assert kh.judge(ask, [ed, ec], offered)["status"] == "pass"
    failed = kh.judge(ask, [ed], offered)
    assert failed["status"] == "fail" and "only by ssh-ed25519" in failed["reason"]
    # the same type but another key is no help
    other = dict(ec, public_key="ecdsa-sha2-nistp256 AAAAother")
    assert kh.judge(ask, [ed, other], offered)["status"] == "fail"
    # a revoked key does not count
    assert kh.judge(ask, [ec, dict(ec, marker="@revoked")], offered)["status"] == "fail"
    # a client restricted to ed25519 host keys cannot use the ECDSA key
    assert kh.judge(dict(ask, hostkeyalgorithms="ssh-ed25519"), [ed, ec],
                    offered)["status"] == "fail"
    # checking off: pass, unless Ansible logs in with a password (OpenSSH then disables it)
    off = dict(ask, stricthostkeychecking="false")
    assert kh.judge(off, [ed], offered)["status"] == "pass"
    assert kh.judge(off, [ed], offered, password_auth=True)["status"] == "fail"
    # a CA, or nothing matching while checking is on: cannot be known
    assert kh.judge(ask, [dict(ec, marker="@cert-authority")], offered)["status"] == "unknown"
    assert kh.judge(ask, [], offered)["status"] == "unknown"
    assert kh.judge(dict(ask, stricthostkeychecking="accept-new"), [],
                    offered)["status"] == "pass"


def test_client_key(tmp_path, keys, monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    ec = ssh_keys.describe(pub(keys, "client_ecdsa"))
    ed = ssh_keys.describe(pub(keys, "client_ed25519"))
    authorized = {"status": "pass", "keys": [ec, ed]}
    cfg = {"identityfile": [keys.path("client_ecdsa")]}
    assert client_key(cfg, authorized, False, None)["status"] == "pass"
    r = client_key({"identityfile": [keys.path("client_ed25519")]}, authorized, False, None)
    assert r["status"] == "fail" and "ssh-ed25519" in r["reason"]
    # FIPS-usable but not authorized for the user
    r = client_key(cfg, {"status": "fail", "keys": [ed]}, False, None)
    assert r["status"] == "fail" and "authorized" in r["reason"]
    # authorization decided elsewhere (AuthorizedKeysCommand): unknown, never pass
    r = client_key(cfg, {"status": "unknown", "reason": "AuthorizedKeysCommand x"}, False, None)
    assert r["status"] == "unknown" and "AuthorizedKeysCommand x" in r["reason"]
    # a passphrase and no .pub: ssh-keygen -y cannot say, and there is no agent
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "secret", "-f", str(locked)],
                   check=True)
    os.unlink(str(locked) + ".pub")
    r = client_key({"identityfile": [str(locked)]}, authorized, False, None)
    assert r["status"] == "unknown" and "passphrase" in r["reason"]
    # the same key in an agent is found there
    agent = subprocess.run(["ssh-agent", "-s"], check=True, capture_output=True, text=True)
    env = dict(line.split(";")[0].split("=", 1) for line in agent.stdout.splitlines()
               if "=" in line.split(";")[0])
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        subprocess.run(["ssh-add", keys.path("client_ecdsa")], check=True, capture_output=True)
        r = client_key({"identityfile": []}, authorized, False, None)
        assert r["status"] == "pass" and r["candidates"][0]["source"] == "ssh-agent"
    finally:
        subprocess.run(["kill", env["SSH_AGENT_PID"]], check=False)
    # a password login without keys is not affected
    monkeypatch.delenv("SSH_AUTH_SOCK")
    assert client_key({"identityfile": []}, None, True, None)["status"] == "pass"
