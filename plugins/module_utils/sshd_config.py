# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read ``sshd_config`` the way sshd does: ``Include`` expanded in place, ``Match`` blocks, first
value wins. Shared by ``sshd_crypto`` (which must know *where* a keyword is set to fix it) and
``fips_facts``.

* Keywords are case-insensitive; a keyword and its arguments are separated by whitespace or one
  ``=``; arguments may be double-quoted; ``#`` starts a comment at the start of a word.
* ``Include`` takes one or more paths or globs, relative ones relative to the directory of the
  main file (``/etc/ssh``); matches are read in lexical order, at the place of the ``Include``
  (inside a ``Match`` block they are conditional, and a ``Match`` in an included file carries on
  after it, as in sshd).
* For each keyword sshd keeps the first value it reads outside ``Match`` (``Match all`` counts
  as outside); ``Match`` blocks override it per connection.
* List values may start with ``+`` (append to the default), ``-`` (remove), ``^`` (prepend).

:meth:`Config.flatten` renders the whole configuration as one file, with a map from its lines back
to the file and line they came from, so that ``sshd -t``/``sshd -T`` can judge a *candidate*
configuration before anything is written, and their errors can name the real file.

Standard library only: this file runs on the managed host.
"""

import fnmatch
import glob
import os
import re

from ansible_collections.flatcar.fips.plugins.module_utils.files import (
    LineError,
    newline,
    split_lines,
)


class SshdConfigError(LineError):
    def __init__(self, message, path=None, lineno=None):
        super().__init__(message, lineno, path)


def tokenize(line, path=None, lineno=None):
    """``'Ciphers "a,b" # x'`` -> ``['Ciphers', 'a,b']``; ``[]`` for blank and comment lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return []
    m = re.match(r"^(\S+?)(?:\s*=\s*|\s+|$)(.*)$", text)
    keyword, rest = m.group(1), m.group(2)
    if "=" in keyword:
        keyword, _sep, first = keyword.partition("=")
        rest = first + (" " + rest if rest else "")
    args, current, quoted, started, i = [], [], False, False, 0
    while i < len(rest):
        c = rest[i]
        if c == '"':
            quoted = not quoted
            started = True
        elif c.isspace() and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
        elif c == "#" and not quoted and not started:
            break
        else:
            current.append(c)
            started = True
        i += 1
    if quoted:
        raise SshdConfigError("unterminated quote", path, lineno)
    if started:
        args.append("".join(current))
    return [keyword, *args]


# A user name no connection has: the criterion that switches a Match block off.
NOBODY = "flatcar-fips-no-such-user-x9"


class Entry:
    """One directive line."""

    def __init__(self, path, index, line, words, match, block=None):
        self.path = path
        self.block = block  # the Match line (an index into Config.flat) this entry is under
        self.index = index
        self.lineno = index + 1
        self.line = line
        self.keyword = words[0]
        self.kw = words[0].lower()
        self.args = words[1:]
        self.match = match  # None outside Match, else the Match criteria ("all" included)

    @property
    def conditional(self):
        return self.match is not None and self.match.lower() != "all"

    @property
    def value(self):
        return " ".join(self.args)

    def __repr__(self):
        return "Entry(%s:%d %s %s)" % (self.path, self.lineno, self.keyword, self.value)


_MATCH_LINE = re.compile(r"^[ \t]*match(?:[ \t=]|$)", re.I | re.M)


class ConfigFile:
    def __init__(self, path, text):
        self.path = path
        self.text = text
        self.lines = split_lines(text)

    @property
    def newline(self):
        return newline(eol for _line, eol in self.lines)


class Config:
    """The configuration sshd reads from ``main``, with ``Include`` expanded.

    ``texts`` maps paths to candidate contents (None: the file does not exist) that replace
    what is on disk; ``read(path)`` returns a file's text or None.
    """

    MAX_DEPTH = 16

    def __init__(self, main, read, texts=None):
        self.main = main
        self.base = os.path.dirname(main)
        self._read = read
        self.texts = dict(texts or {})
        self.files = {}
        self.entries = []  # in the order sshd reads them
        self.reads = []  # (path, match) for every file read, in order
        self.flat = []  # (text, path, lineno) for flatten()
        self.match_lines = {}  # index in flat -> criteria, for Match lines other than "all"
        self._block = None
        self._load(main, None, 0)

    def text(self, path):
        if path in self.texts:
            return self.texts[path]
        return self._read(path)

    def expand(self, pattern):
        """The files an ``Include`` pattern reads, in order (candidates count)."""
        if not os.path.isabs(pattern):
            pattern = os.path.join(self.base, pattern)
        found = set(glob.glob(pattern))
        for path, text in self.texts.items():
            if text is not None and fnmatch.fnmatch(path, pattern):
                found.add(path)
            elif text is None:
                found.discard(path)
        return sorted(p for p in found if not os.path.isdir(p))

    def _load(self, path, match, depth):
        text = self.text(path)
        if text is None:
            if depth == 0:
                raise SshdConfigError("the file does not exist", path)
            return match
        cfg = ConfigFile(path, text)
        self.files[path] = cfg
        self.reads.append((path, match))
        for index, (line, _eol) in enumerate(cfg.lines):
            words = tokenize(line, path, index + 1)
            if not words:
                continue
            kw = words[0].lower()
            if kw == "match":
                match = " ".join(words[1:]) or "all"
                self._block = None
                if match.lower() != "all":
                    self._block = len(self.flat)
                    self.match_lines[self._block] = match
                self.flat.append((line, path, index + 1))
                continue
            if kw == "include":
                if depth >= self.MAX_DEPTH:
                    raise SshdConfigError("Include nested too deeply", path, index + 1)
                entry = Entry(path, index, line, words, match)
                self.entries.append(entry)
                self.flat.append(("# " + line.strip(), path, index + 1))
                for pattern in words[1:]:
                    for included in self.expand(pattern):
                        match = self._load(included, match, depth + 1)
                continue
            self.entries.append(Entry(path, index, line, words, match, self._block))
            self.flat.append((line, path, index + 1))
        return match

    # --- queries ---------------------------------------------------------------------------

    def first_global(self, keyword):
        """The entry whose value sshd uses outside Match blocks (first one read)."""
        kw = keyword.lower()
        for entry in self.entries:
            if entry.kw == kw and not entry.conditional:
                return entry
        return None

    def in_match(self, keyword):
        kw = keyword.lower()
        return [e for e in self.entries if e.kw == kw and e.conditional]

    def reads_unconditionally(self, path):
        return any(p == path and (m is None or m.lower() == "all") for p, m in self.reads)

    def flatten(self, only_block=None):
        """``(text, origin)``: the configuration as one file; ``origin[n]`` is the
        ``(path, lineno)`` of its line ``n`` (1-based).

        With ``only_block`` (a key of :attr:`match_lines`), that Match block applies to every
        connection (``Match all``) and no other conditional block applies to any: ``sshd -T``
        then shows what a connection that only this block matches gets, whatever its
        criteria (users, groups, addresses, ports).
        """
        lines, origin = [], {}
        for n, (text, path, lineno) in enumerate(self.flat, start=1):
            if only_block is not None and n - 1 in self.match_lines:
                lines.append("Match all" if n - 1 == only_block else "Match User %s" % NOBODY)
            else:
                lines.append(text)
            origin[n] = (path, lineno)
        return "\n".join(lines) + "\n", origin

    def conditional(self):
        """Can a connection spec change what sshd answers? Only a ``Match`` block can: without
        one, ``sshd -T -C spec`` prints what ``sshd -T`` prints, byte for byte, so the question
        need not be asked (about 0.3 s of an emulated host per spec). Decided from the parse
        and, so that no parse can hide one, from the raw text of every file read: any line
        that starts with ``Match`` (even ``Match all``) counts."""
        return bool(self.match_lines) or any(_MATCH_LINE.search(f.text or "")
                                             for f in self.files.values())

    def blocks_setting(self, keywords):
        """The Match blocks (keys of :attr:`match_lines`) that set any of ``keywords``."""
        kws = {k.lower() for k in keywords}
        return sorted({e.block for e in self.entries if e.kw in kws and e.block is not None})

    def describe_block(self, block):
        _line, path, lineno = self.flat[block]
        return "Match %s (%s line %d)" % (self.match_lines[block], path, lineno)


# Why ``sshd -t``/``sshd -T`` can fail; only "config" is a problem of the configuration files.
SSHD_ERROR_CAUSES = {
    "runtime_directory": "sshd's runtime directory is missing, not a configuration problem",
    "host_key_permissions": "a host key file's permissions are too open",
    "host_key": "a host key cannot be loaded",
    "config": "the configuration is invalid",
    "other": "sshd refused to start",
}
_CAUSE_PATTERNS = (
    ("runtime_directory", r"Missing privilege separation directory|privilege separation user"),
    ("host_key_permissions", r"UNPROTECTED PRIVATE KEY FILE|Permissions 0?[0-7]{3,4} for .* are "
                             r"too open|bad permissions"),
    ("host_key", r"Unable to load host key|no hostkeys available|Could not load host key"),
    ("config", r"line \d+|[Bb]ad configuration option|bad configuration options|"
               r"Unsupported option|is not allowed within a Match block|Missing argument|"
               r"Bad .* argument|[Uu]nsupported .* algorithm|Include|terminating"),
)


def classify_sshd_error(message):
    """The cause of an sshd -t/-T failure, a key of :data:`SSHD_ERROR_CAUSES`."""
    for cause, pattern in _CAUSE_PATTERNS:
        if re.search(pattern, message or ""):
            return cause
    return "other"


def explain_sshd_error(message, flat_path, origin):
    """Rewrite ``FLAT line N`` in an sshd error into the real file and line."""
    def repl(m):
        n = int(m.group(1))
        if n in origin:
            return "%s line %d" % origin[n]
        return m.group(0)
    return re.sub(re.escape(flat_path) + r"(?::? line |:)(\d+)", repl, message)


def parse_effective(text):
    """``sshd -T`` output -> ``{keyword: value}`` (keywords lowercase; repeated ones joined
    with newlines, e.g. hostkey)."""
    result = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _sep, value = line.strip().partition(" ")
        if key in result:
            result[key] += "\n" + value
        else:
            result[key] = value
    return result


def split_list(value):
    """An algorithm list as sshd prints it (``a,b``) or as a file may set it (``a, b``)."""
    return [v for v in value.replace(" ", ",").split(",") if v]


def algorithm_lists(effective, keywords):
    """``{Keyword: [names]}`` of ``keywords`` in :func:`parse_effective`'s answer."""
    return {k: split_list(effective.get(k.lower(), "")) for k in keywords}


def host_key_paths(effective):
    """The ``HostKey`` files in :func:`parse_effective`'s answer (one line each)."""
    return [p.strip() for p in effective.get("hostkey", "").splitlines() if p.strip()]


def insert_include(text, path, newline="\n"):
    """Put ``Include path`` before the first directive of ``text`` (after the leading comment
    block), so that the included file is read before anything else."""
    lines = split_lines(text)
    at = 0
    for index, (line, _eol) in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        at = index + 1
    else:
        at = len(lines)
    if at and lines[at - 1][0].strip():
        insert = [newline, "Include %s%s" % (path, newline), newline]
    else:
        insert = ["Include %s%s" % (path, newline), newline]
    out = [line + eol for line, eol in lines[:at]]
    if out and not out[-1].endswith("\n"):
        out[-1] += newline
    return "".join(out + insert + [line + eol for line, eol in lines[at:]])


def replace_value(text, index, keyword, value):
    """Replace the directive on line ``index`` with ``keyword value``, keeping indentation."""
    lines = split_lines(text)
    line, eol = lines[index]
    indent = line[:len(line) - len(line.lstrip())]
    lines[index] = ("%s%s %s" % (indent, keyword, value), eol)
    return "".join(line + eol for line, eol in lines)
