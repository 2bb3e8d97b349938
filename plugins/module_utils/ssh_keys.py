# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH public keys (authorized_keys lines, ``.pub`` files): type and size, without ssh-keygen.

Shared by ``sshd_crypto`` (lockout guards) and ``fips_facts``. Standard library only.
"""

import base64
import os
import struct

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, files


def key_info(line):
    """``(type, bits)`` for an authorized_keys / .pub line, or None when it holds no key."""
    words = line.split()
    for i, word in enumerate(words):
        if word.startswith(("ssh-", "ecdsa-", "sk-", "rsa-")) and i + 1 < len(words):
            key_type = word
            try:
                blob = base64.b64decode(words[i + 1], validate=True)
            except (ValueError, TypeError):
                continue
            return key_type, _key_bits(key_type, blob)
    return None


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


def host_keys(paths, run_keygen=None):
    """Describe host keys: ``[{path, exists, type, bits, fips_usable}]``.

    Reads ``<key>.pub``; when it is missing, ``run_keygen(path)`` may return the public key
    text (``ssh-keygen -y``)."""
    keys = []
    for path in paths:
        info = None
        pub = path + ".pub"
        text = files.read_text_if_readable(pub)
        if text is not None:
            info = key_info(text)
        elif os.path.exists(path) and run_keygen is not None:
            text = run_keygen(path)
            info = key_info(text) if text else None
        key_type, bits = info if info else (None, None)
        exists = os.path.exists(path)
        keys.append(dict(path=path, exists=exists, type=key_type, bits=bits,
                         fips_usable=bool(info) and exists
                         and algorithms.key_is_fips_usable(key_type, bits)))
    return keys


def authorized_keys(passwd_text, patterns, read):
    """Each user's authorized keys: ``{user: [(type, bits), ...]}`` for users that have any.

    ``patterns`` are sshd's effective ``AuthorizedKeysFile`` values (``%h``, ``%u``, ``%%``
    expanded; relative paths are under the home directory); ``read(path)`` returns a file's text
    or None."""
    found = {}
    for line in (passwd_text or "").splitlines():
        parts = line.split(":")
        if len(parts) < 7 or not parts[5]:
            continue
        user, home = parts[0], parts[5]
        keys = []
        for pattern in patterns:
            path = pattern.replace("%%", "\0").replace("%h", home).replace("%u", user)
            path = path.replace("\0", "%")
            if not os.path.isabs(path):
                path = os.path.join(home, path)
            for key_line in (read(path) or "").splitlines():
                if key_line.strip() and not key_line.strip().startswith("#"):
                    info = key_info(key_line)
                    if info:
                        keys.append(info)
        if keys:
            found[user] = keys
    return found


def users_without_fips_key(passwd_text, patterns, read):
    """Users whose authorized keys are all unusable under FIPS (they would be locked out)."""
    return sorted(user for user, keys in authorized_keys(passwd_text, patterns, read).items()
                  if not any(algorithms.key_is_fips_usable(t, b) for t, b in keys))
