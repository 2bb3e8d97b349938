# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""All or nothing: every side effect of a module run goes through :class:`Changes`.

A writer module decides first (reads, computes, validates) and then applies its plan through
one ``Changes`` object. ``Changes``:

* records every file it writes, creates, replaces, renames, links or removes, in order, for the
  result (``files_changed``) and the diff;
* does nothing at all in check mode (the record is the prediction);
* remembers, before the first change to a path, exactly what was there (bytes, mode, owner,
  times; a symlink's target; nothing) and, when a later step of the same run fails, puts every
  path back as it was, in reverse order (:meth:`Changes.rollback`), and says what it put back;
* writes backups and ``.pre-fips`` copies atomically and reads them back before anything depends
  on them.

:func:`run` is the one place where a module's failure becomes ``fail_json``: it rolls back,
names what was rolled back (or what could not be), and escapes bytes that are not UTF-8 in
every result value (see ``files.printable``).

Standard library only: runs on the managed host.
"""

import fcntl
import os
import stat
import time

from ansible_collections.flatcar.fips.plugins.module_utils import files


class Failure(Exception):
    """Stop the module: ``fail_json`` with this message and the extra result keys."""

    def __init__(self, msg, **extra):
        super().__init__(msg)
        self.msg = msg
        self.extra = extra


class _Absent:
    def restore(self, path):
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)


class _Link:
    def __init__(self, target):
        self.target = target

    def restore(self, path):
        tmp = "%s.flatcar-fips-undo.%d" % (path, os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(self.target, tmp)
        os.rename(tmp, path)


class _File:
    def __init__(self, data, st):
        self.data = data
        self.st = st

    def restore(self, path):
        files.copy_verified(self.data, path, self.st)


def _state(path):
    """What ``path`` is now, in a form that can be put back exactly."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _Absent()
    except OSError as e:
        raise files.FileError("cannot inspect %s: %s" % (path, e.strerror or e)) from e
    if stat.S_ISLNK(st.st_mode):
        return _Link(os.readlink(path))
    if not stat.S_ISREG(st.st_mode):
        raise files.FileError("%s is a %s, not a regular file; refusing to change it"
                              % (path, files.kind(st.st_mode)))
    return _File(files.read_bytes(path, limit=None), st)


# One writer at a time on a host: a task's plan and its rollback assume nobody else changes the
# files in between (two concurrent runs could otherwise roll back each other's writes). Check
# mode takes the lock shared, so that it never reads a half-applied change either.
LOCK_PATHS = ("/run/flatcar-fips.lock", "/var/lock/flatcar-fips.lock")
LOCK_TIMEOUT = 300


def lock_host(exclusive, timeout=None):
    """Hold the host-wide lock (released when the process ends, even by kill -9); None on a
    host with neither /run nor /var/lock."""
    path = next((p for p in LOCK_PATHS if os.path.isdir(os.path.dirname(p))), None)
    if path is None:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise Failure("Another flatcar.fips task has been changing this host for %d s "
                              "(lock %s is held). Nothing was changed; retry when it is done."
                              % (timeout, path)) from None
            time.sleep(0.1)


class Changes:
    """The side effects of one module run (see the module docstring)."""

    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self._lock_fd = None
        self.files_changed = []
        self.diffs = []
        self.backup_files = {}
        self._before = {}  # path -> state before this run touched it
        self._order = []  # paths in the order they were first touched
        self._dirs = []  # directories this run created
        self._kept = []  # files this run created that a failure leaves in place (keep)

    def lock(self):
        """Take the host-wide lock (``run`` does, before the module reads anything)."""
        if self._lock_fd is None:
            self._lock_fd = lock_host(not self.check)

    def unlock(self):
        """Release it (``run`` does when the module exits, whichever way)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- record ----------------------------------------------------------------------------

    def _note(self, path):
        if path not in self.files_changed:
            self.files_changed.append(path)

    def diff(self, path, before, after, header=None):
        self.diffs.append(dict(before_header=header or path, after_header=path,
                               before=before or "", after=after or ""))

    def _remember(self, path):
        if path not in self._before:
            self._before[path] = _state(path)
            self._order.append(path)

    # --- side effects (none in check mode) -------------------------------------------------

    def makedirs(self, directory, mode=0o755):
        """Create ``directory`` and missing parents; removed again on rollback."""
        if self.check or os.path.isdir(directory):
            return
        parent = os.path.dirname(directory)
        if parent and parent != directory:
            self.makedirs(parent, mode)
        try:
            os.mkdir(directory, mode)
        except OSError as e:
            raise files.FileError("cannot create directory %s: %s"
                                  % (directory, e.strerror or e)) from e
        self._dirs.append(directory)

    def write(self, path, text, mode=None, validate=None, backup=False, replace_link=True):
        """Write ``text`` to ``path`` atomically (see ``files.write_atomically``).

        A symlink at ``path`` is replaced by a regular file, never written through (unless
        ``replace_link`` is false). ``backup`` keeps a timestamped copy of the old file.
        """
        self._note(path)
        if self.check:
            return
        self._remember(path)
        if backup and os.path.isfile(path):
            self.backup(path)
        if replace_link and os.path.islink(path):
            files.check_writable_target(path)
            os.unlink(path)
        files.write_atomically(self.module, path, text, validate=validate, mode=mode)

    def backup(self, path):
        """A timestamped copy of ``path`` (Ansible's ``backup_local`` name), verified."""
        name = files.backup_name(path)
        self._remember(name)
        files.copy_verified(files.read_bytes(path, limit=None), name, os.stat(path))
        self.backup_files[path] = name
        return name

    def copy(self, path, dest):
        """Copy ``path`` (a symlink as a symlink) to ``dest``, atomically and verified."""
        self._note(dest)
        if self.check:
            return
        self._remember(dest)
        if os.path.islink(path):
            self.symlink(os.readlink(path), dest)
            return
        data = files.read_bytes(path, limit=None)
        files.copy_verified(data, dest, os.stat(path))

    def symlink(self, target, path):
        self._note(path)
        if self.check:
            return
        self._remember(path)
        _Link(target).restore(path)

    def keep(self, path):
        """Record a file that a step of this run created and that must outlive a failure (a
        LUKS header backup: a failure's message may name it for a restore by hand). Never
        rolled back."""
        self._note(path)
        self._kept.append(path)

    def remove(self, path):
        self._note(path)
        if self.check:
            return
        self._remember(path)
        try:
            os.unlink(path)
        except OSError as e:
            raise files.FileError("cannot remove %s: %s" % (path, e.strerror or e)) from e

    def create_with(self, paths, fn):
        """Let ``fn()`` (a program such as ``ssh-keygen``) create ``paths``; they are recorded,
        and removed again on rollback."""
        for path in paths:
            self._note(path)
        if self.check:
            return
        for path in paths:
            self._remember(path)
        fn()

    def rename(self, src, dest):
        """Move ``src`` over ``dest`` (restoring a saved copy)."""
        self._note(dest)
        self._note(src)
        if self.check:
            return
        self._remember(dest)
        self._remember(src)
        files.check_writable_target(dest)
        try:
            os.rename(src, dest)
        except OSError as e:
            raise files.FileError("cannot move %s to %s: %s"
                                  % (src, dest, e.strerror or e)) from e

    # --- undo ------------------------------------------------------------------------------

    @property
    def touched(self):
        """Paths this run has actually changed on disk so far (the kept ones too)."""
        return list(self._order) + [p for p in self._kept if p not in self._order]

    def rollback(self):
        """Put every touched path back as it was, newest first.

        Returns ``(restored, errors)``: the paths put back, and messages for those that could
        not be (the caller must say so: that is the one case where a file is not as found).
        """
        restored, errors = [], []
        for path in reversed(self._order):
            try:
                self._before[path].restore(path)
                restored.append(path)
            except (OSError, files.FileError) as e:
                errors.append("%s: %s" % (path, getattr(e, "strerror", None) or e))
        for directory in reversed(self._dirs):
            try:
                os.rmdir(directory)
            except OSError:
                pass
        self._order, self._before, self._dirs = [], {}, []
        return restored, errors

    def result(self):
        """The keys every writer returns about its side effects."""
        result = dict(changed=bool(self.files_changed), files_changed=list(self.files_changed))
        if self.diffs:
            result["diff"] = self.diffs
        if self.backup_files:
            result["backup_files"] = dict(self.backup_files)
        return result


def cause(e):
    if isinstance(e, Failure):
        return e.msg, e.extra
    if isinstance(e, files.FileError):
        return str(e), {}
    return "%s: %s" % (getattr(e, "filename", None) or "error", getattr(e, "strerror", None)
                       or e), {}


def run(module, changes, fn, context=None):
    """Run ``fn()`` (which returns the result dict) under the host-wide lock, and exit.

    On :class:`Failure`, ``files.FileError`` or ``OSError``: roll back every change made so
    far and fail with the cause, what was rolled back, and ``files_changed: []`` (or the paths
    that could not be put back), plus ``context()`` (result keys worth keeping on failure).
    Results are made safe for the controller (``printable``). The lock is released on the way
    out, whichever way that is.
    """
    try:
        _run(module, changes, fn, context)
    finally:
        changes.unlock()


def _run(module, changes, fn, context):
    try:
        changes.lock()
        result = fn()
    except (Failure, files.FileError, OSError) as e:
        msg, extra = cause(e)
        touched = changes.touched
        restored, errors = changes.rollback()
        if errors:
            msg += (" Rolling back failed for %s: these files are NOT as they were; restore "
                    "them by hand." % "; ".join(errors))
        elif restored:
            msg += " Rolled back: %s (each is as it was before this task)." % ", ".join(restored)
        elif not extra.get("changed") and "nothing was changed" not in msg.lower():
            # (a failure that says changed=True happened after a change this object does not
            # undo, such as a converted LUKS keyslot: its message says what was done)
            msg += " Nothing was changed."
        extra = dict(context() if context else {}, **extra)
        extra.update(rolled_back=restored, files_changed=[p for p in touched
                                                          if p not in restored])
        module.fail_json(msg=files.printable(msg), **files.printable(extra))
    except Exception:
        # A bug, not a planned failure: still leave every file as it was, then let Ansible
        # show the traceback.
        changes.rollback()
        raise
    module.exit_json(**files.printable(result))
