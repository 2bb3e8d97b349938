# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH public keys (authorized_keys lines, ``.pub`` files): type and size, without ssh-keygen.

Shared by ``sshd_crypto`` (lockout guards) and ``fips_facts``. Standard library only.
"""

import base64
import hashlib
import os
import struct

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, files

KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-", "rsa-")


def parse_public(line):
    """``(type, base64 blob)`` of the first key in an authorized_keys / known_hosts / .pub line
    (options, host names and comments around it are skipped), or None."""
    words = line.split()
    for i, word in enumerate(words):
        if word.startswith(KEY_TYPE_PREFIXES) and i + 1 < len(words):
            try:
                blob = base64.b64decode(words[i + 1], validate=True)
            except (ValueError, TypeError):
                continue
            if blob:
                return word, words[i + 1]
    return None


def key_info(line):
    """``(type, bits)`` for an authorized_keys / .pub line, or None when it holds no key."""
    parsed = parse_public(line)
    if parsed is None:
        return None
    key_type, b64 = parsed
    return key_type, _key_bits(key_type, base64.b64decode(b64))


def fingerprint(b64):
    """OpenSSH's ``SHA256:...`` fingerprint of a base64 key blob."""
    digest = hashlib.sha256(base64.b64decode(b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def describe(line):
    """``{type, bits, fips_usable, public_key, fingerprint}`` for a key line, or None."""
    parsed = parse_public(line)
    if parsed is None:
        return None
    key_type, b64 = parsed
    bits = _key_bits(key_type, base64.b64decode(b64))
    return dict(type=key_type, bits=bits, fips_usable=algorithms.key_is_fips_usable(key_type, bits),
                public_key="%s %s" % (key_type, b64), fingerprint=fingerprint(b64))


def _key_bits(key_type, blob):
    try:
        fields, pos = [], 0
        while pos < len(blob) and len(fields) < 3:
            (length,) = struct.unpack(">I", blob[pos:pos + 4])
            fields.append(blob[pos + 4:pos + 4 + length])
            pos += 4 + length
        if key_type == "ssh-rsa":
            return int.from_bytes(fields[2], "big").bit_length()
        if key_type.startswith("ecdsa-sha2-nistp"):
            return int(key_type.rsplit("nistp", 1)[1].split("-")[0])
        if key_type.startswith("ssh-ed25519"):
            return 256
    except (struct.error, IndexError, ValueError):
        return None
    return None


def keygen_public(module):
    """A ``run_keygen`` for :func:`host_keys`: ``ssh-keygen -y`` (never prompting for a
    passphrase) on a private key that is a regular file; None when it cannot say."""
    keygen = module.get_bin_path("ssh-keygen", opt_dirs=["/usr/bin"])

    def run(path):
        if not keygen:
            return None
        try:
            files.check_readable(path)
        except files.FileError:
            return None
        rc, out, _err = module.run_command([keygen, "-y", "-P", "", "-f", path])
        return out if rc == 0 else None

    return run


def host_keys(paths, run_keygen=None):
    """Describe host keys: ``[{path, exists, type, bits, fips_usable, public_key, fingerprint}]``.

    Reads ``<key>.pub``; when it is missing, ``run_keygen(path)`` may return the public key
    text (``ssh-keygen -y``). ``public_key`` (``type base64``) is what a client's known-hosts
    file must hold for this key; None when it cannot be read."""
    keys = []
    for path in paths:
        info = None
        pub = path + ".pub"
        text = files.read_text_if_readable(pub)
        if text is None and os.path.exists(path) and run_keygen is not None:
            text = run_keygen(path)
        if text:
            info = describe(text)
        exists = os.path.exists(path)
        info = info or dict(type=None, bits=None, fips_usable=False, public_key=None,
                            fingerprint=None)
        info["fips_usable"] = bool(info["fips_usable"] and exists)
        keys.append(dict(path=path, exists=exists, **info))
    return keys


def _passwd(passwd_text):
    """``{user: (uid, home)}`` from /etc/passwd text."""
    users = {}
    for line in (passwd_text or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[0]:
            users.setdefault(parts[0], (parts[2], parts[5]))
    return users


def expand_path(pattern, user, uid, home):
    """An ``AuthorizedKeysFile`` value as sshd expands it for a user: ``%%``, ``%h``, ``%u``,
    ``%U``, a leading ``~/``; relative paths are under the home directory."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            tokens = {"%": "%", "h": home, "u": user, "U": uid}
            out.append(tokens.get(pattern[i + 1], pattern[i:i + 2]))
            i += 2
            continue
        out.append(c)
        i += 1
    path = "".join(out)
    if path.startswith("~/"):
        path = os.path.join(home, path[2:])
    if not os.path.isabs(path):
        path = os.path.join(home, path)
    return path


def _keys_in(text):
    keys = []
    for key_line in (text or "").splitlines():
        stripped = key_line.strip()
        if stripped and not stripped.startswith("#"):
            info = describe(stripped)
            if info:
                keys.append(info)
    return keys


def authorized_keys(passwd_text, patterns, read):
    """Each user's authorized keys: ``{user: [(type, bits), ...]}`` for users that have any.

    ``patterns`` are sshd's effective ``AuthorizedKeysFile`` values (tokens expanded by
    :func:`expand_path`); ``read(path)`` returns a file's text or None."""
    found = {}
    for user, (uid, home) in _passwd(passwd_text).items():
        if not home:
            continue
        keys = []
        for pattern in patterns:
            if pattern.lower() == "none":
                continue
            path = expand_path(pattern, user, uid, home)
            keys += [(k["type"], k["bits"]) for k in _keys_in(read(path))]
        if keys:
            found[user] = keys
    return found


def authorized_keys_patterns(effective):
    """sshd's effective ``AuthorizedKeysFile`` values (OpenSSH's default when ``effective``
    has none), without ``none``."""
    value = effective.get("authorizedkeysfile", ".ssh/authorized_keys .ssh/authorized_keys2")
    return [p for p in (value or "").split() if p.lower() != "none"]


def users_without_fips_key(passwd_text, patterns, read):
    """Users whose authorized keys are all unusable under FIPS (they would be locked out)."""
    return sorted(user for user, keys in authorized_keys(passwd_text, patterns, read).items()
                  if not any(algorithms.key_is_fips_usable(t, b) for t, b in keys))


def _setting(effective, keyword):
    value = (effective.get(keyword) or "").strip()
    return None if not value or value.lower() == "none" else value


def user_access(user, passwd_text, effective, read):
    """How a user can still log in with a public key once sshd is in FIPS mode.

    ``effective`` is sshd's effective configuration for that user (``sshd -T -C user=...``,
    lower-case keywords); ``read(path)`` returns a file's text or None. Returns ``{status,
    reason, authorized_keys_files, keys, authorized_keys_command, trusted_user_ca_keys}`` where
    ``status`` is ``pass`` (a FIPS-usable authorized key exists, or the user has no key at all,
    so FIPS mode changes nothing), ``fail`` (keys exist, none usable, and nothing else can
    authorize the user) or ``unknown`` (the answer is outside the
    files: ``AuthorizedKeysCommand``, certificates via ``TrustedUserCAKeys``, or no such user).
    """
    result = dict(status="unknown", reason=None, authorized_keys_files=[], keys=[],
                  authorized_keys_command=_setting(effective, "authorizedkeyscommand"),
                  trusted_user_ca_keys=_setting(effective, "trustedusercakeys"))
    entry = _passwd(passwd_text).get(user)
    if entry is None:
        result["reason"] = "%s is not in the password file, so its keys cannot be read" % user
        return result
    uid, home = entry
    paths = [expand_path(p, user, uid, home) for p in authorized_keys_patterns(effective)]
    result["authorized_keys_files"] = paths
    for path in paths:
        result["keys"] += [dict(k, file=path) for k in _keys_in(read(path))]
    if (effective.get("pubkeyauthentication") or "yes").lower() == "no":
        result.update(status="pass", reason="sshd does not accept public keys for %s "
                      "(PubkeyAuthentication no): FIPS mode changes nothing for its logins" % user)
        return result
    usable = [k for k in result["keys"] if k["fips_usable"]]
    if usable:
        result.update(status="pass", reason="%d FIPS-usable key(s) in %s" % (
            len(usable), ", ".join(sorted({k["file"] for k in usable}))))
        return result
    outside = []
    if result["authorized_keys_command"]:
        outside.append("AuthorizedKeysCommand %s" % result["authorized_keys_command"])
    if result["trusted_user_ca_keys"]:
        outside.append("certificates signed by TrustedUserCAKeys %s"
                       % result["trusted_user_ca_keys"])
    if outside:
        result["reason"] = ("no FIPS-usable key in %s, and %s may authorize %s: what they accept "
                            "cannot be known from the host's files" % (
                                ", ".join(paths) or "no AuthorizedKeysFile", " or ".join(outside),
                                user))
        return result
    if not result["keys"]:
        result.update(status="pass", reason="%s has no authorized key in %s: public-key login is "
                      "not possible now either, and FIPS mode changes nothing for its other "
                      "logins" % (user, ", ".join(paths) or "no AuthorizedKeysFile"))
        return result
    result.update(status="fail", reason="%s holds keys of types %s only, none FIPS-usable" % (
        ", ".join(sorted({k["file"] for k in result["keys"]})),
        ", ".join(sorted({k["type"] for k in result["keys"]}))))
    return result
