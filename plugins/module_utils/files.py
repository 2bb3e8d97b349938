# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing the files this collection manages, the same way in every module.

* Only regular files (and symlinks to them) are read: :func:`read_bytes` opens without blocking
  and checks the file type first, so a FIFO, a device or a symlink loop is refused with its
  name and the cause instead of hanging or crashing the module.
* Writers compute the desired content first; :func:`write_atomically` writes it to a temp file
  *in the target's directory*, lets the caller validate that temp file with the real tool and
  moves it over the target with ``AnsibleModule.atomic_move`` (which keeps the target's mode,
  owner and SELinux context). Nothing reaches the target when writing or validation fails, and
  the temp file is always removed. Copies that something depends on later (backups,
  ``.pre-fips``) are made by :func:`copy_verified`: atomically, then read back.
* Text is decoded with ``surrogateescape`` so that bytes this collection does not understand are
  written back exactly as they were read; :func:`printable` escapes them in results.

Module runs that change several files do it through ``module_utils.changes``, which records
every side effect and undoes them all when a later step fails.
"""

import errno
import hashlib
import os
import re
import stat
import tempfile
import time

ENCODING = "utf-8"
ERRORS = "surrogateescape"


class FileError(OSError):
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


def newline(eols):
    """The line ending a writer uses for lines it adds to a file whose lines end with ``eols``
    (each ``"\\r\\n"``, ``"\\n"`` or ``""``): CRLF when more lines end with it than with a bare LF,
    else LF. One rule for every format (grub.cfg, openssl.cnf, sshd_config)."""
    crlf = lf = 0
    for eol in eols:
        crlf += eol == "\r\n"
        lf += eol == "\n"
    return "\r\n" if crlf > lf else "\n"


# Configuration files are small; a larger "file" is a mistake (or an attack) and is refused
# instead of being read into memory.
MAX_SIZE = 16 * 1024 * 1024


def kind(mode):
    """What a ``st_mode`` is, in words (for messages)."""
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "special file"


def open_regular(path, allow_block=False):
    """A binary file object for the regular file ``path`` (a symlink to one is followed), or
    None when it does not exist.

    Never blocks: the file is opened with ``O_NONBLOCK`` and checked with ``fstat`` before a
    byte is read, so a FIFO, a device or a socket where a file belongs is refused instead of
    hanging the module (``allow_block`` admits block devices, for LUKS headers). Raises
    :class:`FileError` naming the path and the cause.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno == errno.ELOOP:
            raise FileError("cannot read %s: too many levels of symbolic links (a symlink loop)"
                            % path) from e
        if e.errno == errno.ENOTDIR:
            raise FileError("cannot read %s: a component of the path is not a directory"
                            % path) from e
        raise FileError("cannot read %s: %s" % (path, e.strerror or e)) from e
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (allow_block and stat.S_ISBLK(mode))):
            raise FileError("%s is a %s, not a regular file; refusing to read it"
                            % (path, kind(mode)))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def check_readable(path):
    """Raise :class:`FileError` when ``path`` exists but is not a regular file (or a link to
    one): call it before handing a path to a program that would block on a FIFO."""
    f = open_regular(path)
    if f is not None:
        f.close()


def read_bytes(path, limit=MAX_SIZE):
    """The bytes of the regular file ``path`` (see :func:`open_regular`), or None when it does
    not exist; more than ``limit`` bytes is refused. Raises :class:`FileError`."""
    f = open_regular(path)
    if f is None:
        return None
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            if limit is not None and size > limit:
                raise FileError("%s is %d bytes, more than the %d this collection reads from a "
                                "configuration file; refusing to read it" % (path, size, limit))
            # In chunks: procfs (/proc/sys) refuses one huge read with ENOMEM, and a file
            # that grows while being read must not get past the limit.
            chunks, total = [], 0
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if limit is not None and total > limit:
                    raise FileError("%s grew past %d bytes while being read; refusing it"
                                    % (path, limit))
        except OSError as e:
            if isinstance(e, FileError):
                raise
            raise FileError("cannot read %s: %s" % (path, e.strerror or e)) from e
    return b"".join(chunks)


def read_text(path):
    """Return the file's text, or None when it does not exist.

    Only regular files (and symlinks to them) are read (see :func:`read_bytes`). Raises
    :class:`FileError` for a directory, a FIFO, a device, a symlink loop, an oversized or
    unreadable file.
    """
    data = read_bytes(path)
    return None if data is None else data.decode(ENCODING, ERRORS)


def read_text_if_readable(path):
    """The file's text, or None when it is missing or cannot be read: for readers that report
    what they could not see instead of failing (fips_facts, other users' authorized_keys)."""
    try:
        return read_text(path)
    except FileError:
        return None


def encode(text):
    return text.encode(ENCODING, ERRORS)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(m):
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return "\\x%02x" % (code - 0xDC00)
    return "\\u%04x" % code


def printable(value):
    """``value`` (str, list, tuple, dict, nested) safe to return to the controller.

    Bytes that were not UTF-8 survive in this collection as lone surrogates
    (``surrogateescape``); they are written back to files exactly, but a result that carries
    them is refused by the controller ("invalid UTF8 string"), losing the module's own message.
    In results they are shown escaped: a Latin-1 ``\\xe9`` becomes the four characters
    ``\\xe9``.
    """
    if isinstance(value, str):
        return _SURROGATE.sub(_escape_surrogate, value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def check_writable_target(path):
    """Refuse to replace anything but a regular file (or a symlink, which callers replace)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise FileError("cannot inspect %s: %s" % (path, e.strerror or e)) from e
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            return  # a dangling link: replaced by a new file
    if not stat.S_ISREG(st.st_mode):
        raise FileError("%s is a %s, not a regular file; refusing to replace it"
                        % (path, kind(st.st_mode)))


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_with(path, data):
    """A temp file beside ``path`` holding ``data``, flushed to disk; returns its name. Raises
    :class:`FileError` (and leaves no temp file) when it cannot be created or written."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path),
                                   suffix=".tmp")
    except OSError as e:
        raise FileError("cannot create a temporary file in %s: %s"
                        % (directory, e.strerror or e)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        os.unlink(tmp)
        raise FileError("cannot write %s: %s" % (path, e.strerror or e)) from e
    return tmp


def write_atomically(module, path, text, validate=None, mode=None):
    """Write ``text`` (str, or bytes) to ``path`` atomically.

    The content goes to a temp file in the target's directory, is flushed to disk,
    ``validate(tmp_path)`` runs on the complete temp file (it raises to stop the write), and only
    then does ``atomic_move`` replace ``path`` (keeping its mode and owner). A full disk, a
    read-only directory or a failed validation leaves ``path`` exactly as it was and no temp
    file behind. ``mode`` applies only when ``path`` is created. Raises :class:`FileError`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileError("directory %s does not exist" % directory)
    check_writable_target(path)
    tmp = _temp_with(path, text if isinstance(text, bytes) else encode(text))
    try:
        creating = not os.path.lexists(path)
        if validate is not None:
            validate(tmp)
        try:
            module.atomic_move(tmp, path)
            if creating and mode is not None:
                # atomic_move gives a new file 0666 & ~umask; apply the mode asked for.
                os.chmod(path, mode)
        except Exception as e:  # atomic_move raises plain Exception
            cause = e.__cause__ if e.__cause__ is not None else e
            raise FileError("cannot replace %s: %s"
                            % (path, getattr(cause, "strerror", None) or cause)) from e
        _fsync_dir(directory)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def copy_verified(data, dest, st=None):
    """Create ``dest`` with ``data`` atomically (temp file, fsync, rename) and read it back.

    ``st`` (an ``os.stat_result``) gives mode, owner and times to copy. Used for backups and
    ``.pre-fips`` copies, which something else depends on later: a full disk can never leave a
    truncated copy that looks valid. Raises :class:`FileError`.
    """
    tmp = _temp_with(dest, data)
    try:
        try:
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except PermissionError:
                    pass
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.rename(tmp, dest)
        except OSError as e:
            raise FileError("cannot write %s: %s" % (dest, e.strerror or e)) from e
        _fsync_dir(os.path.dirname(os.path.abspath(dest)))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    if read_bytes(dest, limit=None) != data:
        raise FileError("%s does not read back as written" % dest)


def backup_name(path):
    """Where a backup of ``path`` goes: Ansible's ``backup_local`` naming."""
    return "%s.%d.%s" % (path, os.getpid(),
                         time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime()))


def sha256_file(path):
    """The SHA-256 (hex) of the regular file ``path`` (see :func:`open_regular`), read in
    chunks. Raises :class:`FileError`, also when it does not exist."""
    f = open_regular(path)
    if f is None:
        raise FileError("cannot read %s: it does not exist" % path)
    h = hashlib.sha256()
    with f:
        try:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        except OSError as e:
            raise FileError("cannot read %s: %s" % (path, e.strerror or e)) from e
    return h.hexdigest()
