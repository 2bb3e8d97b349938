# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorized keys per user and who would be locked out under FIPS, with real ssh-keygen keys."""

import os
import subprocess

from ansible_collections.flatcar.fips.plugins.module_utils import files, ssh_keys


def pub(keys, name):
    with open(keys.path(name) + ".pub") as f:
        return f.read()


def test_users_without_fips_key(tmp_path, keys):
    homes = {}
    for user, lines in (("core", [pub(keys, "client_ecdsa"), pub(keys, "client_ed25519")]),
                        ("edonly", ["# only ed25519\n", pub(keys, "client_ed25519")]),
                        ("nokeys", None)):
        home = tmp_path / user
        (home / ".ssh").mkdir(parents=True)
        if lines is not None:
            (home / ".ssh" / "authorized_keys").write_text("".join(lines))
        homes[user] = str(home)
    (tmp_path / "keys.d").mkdir()
    (tmp_path / "keys.d" / "edonly").write_text(pub(keys, "client_ecdsa"))
    passwd = "".join("%s:x:1000:1000::%s:/bin/bash\n" % (u, h) for u, h in homes.items())
    passwd += "broken line\nsystemd:x:1:1::/:/usr/sbin/nologin\n"

    found = ssh_keys.authorized_keys(passwd, [".ssh/authorized_keys"], files.read_text)
    assert sorted(found) == ["core", "edonly"]
    assert found["core"] == [("ecdsa-sha2-nistp256", 256), ("ssh-ed25519", 256)]
    assert ssh_keys.users_without_fips_key(passwd, [".ssh/authorized_keys"],
                                           files.read_text) == ["edonly"]
    # A second AuthorizedKeysFile (%u expanded, absolute) with an ECDSA key lets edonly in.
    patterns = [".ssh/authorized_keys", os.path.join(str(tmp_path), "keys.d", "%u")]
    assert ssh_keys.users_without_fips_key(passwd, patterns, files.read_text) == []
    # %h expansion
    assert ssh_keys.users_without_fips_key(passwd, ["%h/.ssh/authorized_keys"],
                                           files.read_text) == ["edonly"]


def test_expand_path_tokens():
    expand = ssh_keys.expand_path
    assert expand("%h/.ssh/authorized_keys", "core", "500", "/home/core") == \
        "/home/core/.ssh/authorized_keys"
    assert expand("/etc/ssh/keys/%u.%U", "core", "500", "/home/core") == "/etc/ssh/keys/core.500"
    assert expand(".ssh/k%%u", "core", "500", "/home/core") == "/home/core/.ssh/k%u"
    assert expand("~/.ssh/k", "core", "500", "/home/core") == "/home/core/.ssh/k"


def _user(tmp_path, keys, name, *key_names):
    home = tmp_path / name
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "authorized_keys").write_text(
        "".join('from="10.0.0.0/8",no-pty %s' % pub(keys, k) for k in key_names))
    return "%s:x:1001:1001::%s:/bin/bash\n" % (name, home)


def test_user_access_three_values(tmp_path, keys):
    passwd = (_user(tmp_path, keys, "ok", "client_ed25519", "client_ecdsa")
              + _user(tmp_path, keys, "edonly", "client_ed25519")
              + _user(tmp_path, keys, "nokeys"))
    eff = {"authorizedkeysfile": ".ssh/authorized_keys /etc/ssh/keys/%u"}
    read = files.read_text_if_readable

    ok = ssh_keys.user_access("ok", passwd, eff, read)
    assert ok["status"] == "pass"
    assert ok["authorized_keys_files"] == [str(tmp_path / "ok/.ssh/authorized_keys"),
                                           "/etc/ssh/keys/ok"]
    assert [k["type"] for k in ok["keys"]] == ["ssh-ed25519", "ecdsa-sha2-nistp256"]
    assert all(k["fingerprint"].startswith("SHA256:") for k in ok["keys"])

    locked = ssh_keys.user_access("edonly", passwd, eff, read)
    assert locked["status"] == "fail"
    assert "ssh-ed25519 only" in locked["reason"]

    # an AuthorizedKeysCommand or user CAs may still let edonly in: cannot be known
    for keyword, value in (("authorizedkeyscommand", "/usr/bin/sss_ssh_authorizedkeys %u"),
                           ("trustedusercakeys", "/etc/ssh/user_ca.pub")):
        r = ssh_keys.user_access("edonly", passwd, dict(eff, **{keyword: value}), read)
        assert r["status"] == "unknown", r
        assert value in r["reason"]
    # "none" is sshd's way of saying unset
    assert ssh_keys.user_access("edonly", passwd, dict(eff, authorizedkeyscommand="none"),
                                read)["status"] == "fail"

    # no key at all, or no public keys accepted: FIPS changes nothing for this user
    assert ssh_keys.user_access("nokeys", passwd, eff, read)["status"] == "pass"
    assert ssh_keys.user_access("edonly", passwd, dict(eff, pubkeyauthentication="no"),
                                read)["status"] == "pass"
    missing = ssh_keys.user_access("ghost", passwd, eff, read)
    assert missing["status"] == "unknown" and "not in the password file" in missing["reason"]


def test_authorized_keys_patterns():
    assert ssh_keys.authorized_keys_patterns(
        {"authorizedkeysfile": ".ssh/authorized_keys /etc/ssh/keys/%u"}) == [
        ".ssh/authorized_keys", "/etc/ssh/keys/%u"]
    assert ssh_keys.authorized_keys_patterns({"authorizedkeysfile": "none"}) == []
    # sshd -T always prints the keyword; without it, OpenSSH's own default
    assert ssh_keys.authorized_keys_patterns({}) == [".ssh/authorized_keys",
                                                     ".ssh/authorized_keys2"]


def test_fingerprint_matches_ssh_keygen(keys):
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f",
                          keys.path("client_ecdsa") + ".pub"], check=True,
                         capture_output=True, text=True).stdout
    assert ssh_keys.describe(pub(keys, "client_ecdsa"))["fingerprint"] == out.split()[1]
