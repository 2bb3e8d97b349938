# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read LUKS1 and LUKS2 headers directly (no cryptsetup needed); never writes.

* Both versions start with the magic ``LUKS\\xba\\xbe`` and a big-endian 16-bit version.
* LUKS2: ``hdr_size`` (64-bit) at offset 8; the JSON metadata runs from byte 4096 to
  ``hdr_size``, NUL-padded; ``keyslots.<n>.kdf.type`` is ``pbkdf2``, ``argon2i`` or ``argon2id``.
* LUKS1: always PBKDF2 (the hash is in the header at offset 72); eight key slots of 48 bytes from
  offset 208, each starting with a 32-bit state (``0x00AC71F3`` active, ``0x0000DEAD`` inactive)
  followed by the iteration count.

Shared by ``luks_pbkdf`` and ``fips_facts``. Standard library only: runs on the managed host.
"""

import errno
import hashlib
import json
import os
import struct

from ansible_collections.flatcar.fips.plugins.module_utils import files

MAGIC = b"LUKS\xba\xbe"
LUKS2_JSON_OFFSET = 4096
LUKS1_KEYSLOT_OFFSET = 208
LUKS1_KEYSLOT_SIZE = 48
LUKS1_ACTIVE = 0x00AC71F3
MAX_HEADER = 4 * 1024 * 1024  # LUKS2 headers are at most 4 MiB of metadata
# Where luks_pbkdf keeps the header it saved before converting (``<uuid>.header``, and
# ``<uuid>.header.<timestamp>`` when one existed already).
HEADER_BACKUP_DIR = "/var/lib/flatcar-fips/luks"


class LuksError(Exception):
    """Not a LUKS device, or a header this reader cannot make sense of."""


def read_header(path):
    """The header of ``path`` as a dict, or None when it is not LUKS.

    ``{"version": 1|2, "uuid": str, "keyslots": {"0": {"kdf": "argon2id", ...}}}``
    Raises :class:`LuksError` for a LUKS header that is damaged, OSError when unreadable
    (``files.FileError``, an OSError, for something that is neither a block device nor a
    regular file: a FIFO would block forever).
    """
    f = files.open_regular(path, allow_block=True)
    if f is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    with f:
        head = f.read(LUKS2_JSON_OFFSET)
        if len(head) < 8 or head[:6] != MAGIC:
            return None
        (version,) = struct.unpack(">H", head[6:8])
        if version == 1:
            return _luks1(head)
        if version == 2:
            (hdr_size,) = struct.unpack(">Q", head[8:16])
            if hdr_size <= LUKS2_JSON_OFFSET or hdr_size > MAX_HEADER:
                raise LuksError("%s: LUKS2 header size %d is out of range" % (path, hdr_size))
            area = f.read(hdr_size - LUKS2_JSON_OFFSET)
            return _luks2(path, head, area)
        raise LuksError("%s: unknown LUKS version %d" % (path, version))


def metadata_digest(path):
    """SHA-256 of a LUKS2 device's binary headers and JSON metadata (both copies, salts and
    digests included): equal digests mean the keyslot metadata was not changed."""
    f = files.open_regular(path, allow_block=True)
    if f is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    with f:
        head = f.read(16)
        if len(head) < 16 or head[:6] != MAGIC:
            raise LuksError("%s: no LUKS header" % path)
        (hdr_size,) = struct.unpack(">Q", head[8:16])
        if hdr_size <= LUKS2_JSON_OFFSET or hdr_size > MAX_HEADER:
            raise LuksError("%s: LUKS2 header size %d is out of range" % (path, hdr_size))
        f.seek(0)
        return hashlib.sha256(f.read(2 * hdr_size)).hexdigest()


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _luks1(head):
    keyslots = {}
    hash_spec = _text(head[72:104])
    uuid = _text(head[168:208])
    for slot in range(8):
        offset = LUKS1_KEYSLOT_OFFSET + slot * LUKS1_KEYSLOT_SIZE
        state, iterations = struct.unpack(">II", head[offset:offset + 8])
        if state == LUKS1_ACTIVE:
            keyslots[str(slot)] = dict(kdf="pbkdf2", hash=hash_spec, iterations=iterations)
    return dict(version=1, uuid=uuid, keyslots=keyslots)


def _luks2(path, head, area):
    uuid = _text(head[168:208])
    try:
        meta = json.loads(_text(area))
    except ValueError as e:
        raise LuksError("%s: the LUKS2 JSON metadata does not parse: %s" % (path, e)) from e
    keyslots = {}
    for slot, data in sorted((meta.get("keyslots") or {}).items(), key=lambda kv: int(kv[0])):
        kdf = data.get("kdf") or {}
        entry = dict(kdf=kdf.get("type"), type=data.get("type"))
        for key in ("hash", "iterations", "time", "memory", "cpus"):
            if key in kdf:
                entry[key] = kdf[key]
        keyslots[slot] = entry
    return dict(version=2, uuid=uuid, keyslots=keyslots)


def non_pbkdf2(header):
    """Key slots a FIPS-mode cryptsetup cannot open."""
    return sorted((s for s, d in header["keyslots"].items() if d.get("kdf") != "pbkdf2"), key=int)


def block_devices(sys_class_block="/sys/class/block", dev="/dev"):
    """Block device paths known to the kernel (whole disks and partitions)."""
    try:
        names = sorted(os.listdir(sys_class_block))
    except OSError:
        return []
    return [os.path.join(dev, name) for name in names
            if not name.startswith(("loop", "ram", "zram", "sr"))
            or os.path.exists(os.path.join(sys_class_block, name, "loop", "backing_file"))]


def scan(paths):
    """``{path: header}`` for the LUKS devices among ``paths``; unreadable ones are skipped
    and reported in the second value."""
    found, errors = {}, {}
    for path in paths:
        try:
            header = read_header(path)
        except (OSError, LuksError) as e:
            errors[path] = str(e)
            continue
        if header is not None:
            found[path] = header
    return found, errors


def header_backups_of(uuid, directory=HEADER_BACKUP_DIR):
    """The header backups luks_pbkdf made of the device with this UUID, in ``directory``."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    prefix = "%s.header" % uuid
    return [os.path.join(directory, n) for n in names
            if (n == prefix or n.startswith(prefix + ".")) and ".tmp-" not in n]


def header_backups(directory=HEADER_BACKUP_DIR):
    """Every header backup in ``directory``: ``[{path, uuid, mode, non_pbkdf2}]`` (the keyslots
    the backup would bring back that a FIPS-mode cryptsetup cannot open), and the unreadable
    ones as ``{path: reason}``."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return [], {}
    found, errors = [], {}
    for name in names:
        path = os.path.join(directory, name)
        if ".header" not in name or ".tmp-" in name:
            continue
        try:
            header = read_header(path)
            mode = "%04o" % (os.stat(path).st_mode & 0o7777)
        except (OSError, LuksError) as e:
            errors[path] = str(e)
            continue
        if header is None:
            errors[path] = "not a LUKS header"
            continue
        found.append(dict(path=path, uuid=header["uuid"], mode=mode,
                          non_pbkdf2=non_pbkdf2(header)))
    return found, errors
