# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this OpenSSH supports (``ssh -Q``), remembered per ``ssh`` binary.

``ssh -Q cipher`` (``mac``, ``kex``, ``key-sig``) lists what is compiled into the ``ssh``
binary: the same bytes give the same answers. ``sshd_crypto`` asks four of them on every run,
and so does the plan ``fips_facts`` makes for it (about 0.2 s each on an emulated host). So a
real run of the writer keeps the answers in a small JSON file keyed by the SHA-256 of the binary
it asked; a later run (the writer, or its plan in check mode) whose ``ssh`` has the same digest
reads them instead of starting ``ssh`` again. Another binary (an OS update), or a cache file that
is missing, unreadable, malformed, not a regular file, or writable by anyone but root: ``ssh`` is
asked again. Check mode never writes it.

Standard library only: runs on the managed host.
"""

import json
import os
import stat

from ansible_collections.flatcar.fips.plugins.module_utils import files

DEFAULT_CACHE = "/var/cache/flatcar-fips/ssh-supported.json"
FORMAT = 1


def _trusted(path):
    """The cache is read only when it is a regular file that nobody but root (or this user)
    can have written: its answers decide what sshd is configured with."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_uid in (0, os.geteuid())
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read(path):
    """The cache's data when ``path`` is a trusted cache file of this format, else None."""
    if not path or not _trusted(path):
        return None
    try:
        data = json.loads(files.read_text(path))
    except (files.FileError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def ours(path):
    """Is the file at ``path`` a cache this module wrote? Only such a file is replaced or
    removed: a ``supported_cache`` that names any other file is never written over."""
    return _read(path) is not None


def load(path, digest, queries):
    """``{query: set(names)}`` from the cache at ``path`` when it holds the answers of the
    binary with SHA-256 ``digest`` to every one of ``queries``; else None."""
    data = _read(path)
    if data is None or data.get("sha256") != digest:
        return None
    answers = data.get("answers")
    if not isinstance(answers, dict) or not all(isinstance(answers.get(q), list)
                                                for q in queries):
        return None
    return {q: {str(name) for name in answers[q]} for q in queries}


def save(module, path, ssh, digest, answers):
    """Keep ``answers`` (``{query: set(names)}``) for the binary ``ssh`` with SHA-256
    ``digest``, atomically (0644, its directory 0755). Returns None, or why it was not kept (a
    cache that cannot be written costs time, not truth: the caller warns and moves on)."""
    text = json.dumps(dict(format=FORMAT, ssh=ssh, sha256=digest,
                           answers={q: sorted(names) for q, names in sorted(answers.items())}),
                      indent=1, sort_keys=True) + "\n"
    if os.path.lexists(path) and not ours(path):
        return "%s exists and is not a cache of ssh -Q's answers; it is left alone" % path
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        files.write_atomically(module, path, text, mode=0o644)
    except OSError as e:
        return str(e)
    return None
