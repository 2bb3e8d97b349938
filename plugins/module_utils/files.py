# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing the files this collection manages, the same way in every module.

Writers compute the desired content first; :func:`write_atomically` then writes it to a temp
file *in the target's directory*, lets the caller validate that temp file with the real tool,
optionally backs the old file up, and moves the temp file over the target with
``AnsibleModule.atomic_move`` (which keeps the target's mode, owner and SELinux context).
Nothing reaches the target when validation fails, and the temp file is always removed.

Text is decoded with ``surrogateescape`` so that bytes this collection does not understand are
written back exactly as they were read.
"""

import errno
import os
import re
import tempfile

ENCODING = "utf-8"
ERRORS = "surrogateescape"


class FileError(Exception):
    """A file could not be read or written; the message says which and why."""


class LineError(Exception):
    """Something wrong on a line of a file: ``str()`` gives ``[path ]line N: message``."""

    def __init__(self, message, lineno=None, path=None):
        super().__init__(message)
        self.message = message
        self.lineno = lineno
        self.path = path

    def __str__(self):
        where = self.path + " " if self.path else ""
        if self.lineno is not None:
            where += "line %d" % self.lineno
        return (where.strip() + ": " if where.strip() else "") + self.message


_EOL = re.compile(r"\r?\n")


def split_lines(text):
    """Split into ``(content, eol)`` pairs; only ``\\n`` and ``\\r\\n`` end a line, so every
    byte survives a round trip (unlike ``str.splitlines``)."""
    lines, pos = [], 0
    for m in _EOL.finditer(text):
        lines.append((text[pos:m.start()], m.group()))
        pos = m.end()
    if pos < len(text):
        lines.append((text[pos:], ""))
    return lines


def read_text(path):
    """Return the file's text, or None when it does not exist.

    Raises :class:`FileError` for a directory, an unreadable file or another I/O error.
    """
    if os.path.isdir(path):
        raise FileError("%s is a directory, not a file" % path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        raise FileError("cannot read %s: %s" % (path, e.strerror or e)) from e
    return data.decode(ENCODING, ERRORS)


def read_text_if_readable(path):
    """The file's text, or None when it is missing or cannot be read: for readers that report
    what they could not see instead of failing (fips_facts, other users' authorized_keys)."""
    try:
        return read_text(path)
    except FileError:
        return None


def encode(text):
    return text.encode(ENCODING, ERRORS)


def write_atomically(module, path, text, backup=False, validate=None, mode=None):
    """Write ``text`` to ``path`` atomically; return the backup file name or None.

    ``validate(tmp_path)`` runs on the complete temp file before it replaces ``path``; it raises
    (any exception) to stop the write. ``mode`` applies only when ``path`` is created; an existing
    file keeps its mode and owner.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileError("directory %s does not exist" % directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode(text))
            f.flush()
            os.fsync(f.fileno())
        creating = not os.path.lexists(path)
        if validate is not None:
            validate(tmp)
        backup_file = None
        if backup and os.path.exists(path):
            backup_file = module.backup_local(path)
        module.atomic_move(tmp, path)
        if creating and mode is not None:
            # atomic_move gives a new file 0666 & ~umask; apply the mode asked for.
            os.chmod(path, mode)
        return backup_file
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
