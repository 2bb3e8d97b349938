# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorized keys per user and who would be locked out under FIPS, with real ssh-keygen keys."""

import os

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
