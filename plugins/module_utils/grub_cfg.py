# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, evaluate and rewrite the kernel arguments in Flatcar's OEM ``grub.cfg``.

Flatcar's main GRUB configuration is embedded in the EFI image and cannot be edited. It starts
with ``set linux_append=""``, sources ``grub.cfg`` from the partition labelled ``OEM`` when it
exists, and puts ``$linux_append`` last on the kernel command line. Persistent kernel arguments
therefore live in the OEM file, which is shared with the platform's own settings (``oem_id``,
consoles, ``if`` blocks) and with Ignition's first-boot kargs helper.

Two readers matter, and this module reads the file the way both do:

* GRUB evaluates every ``set linux_append=...`` in order. A value without ``$linux_append``
  replaces what came before (OEM images write ``set linux_append="flatcar.autologin"``), a value
  with it extends it. Assignments inside ``if``/``for``/``while``/``function`` blocks apply only
  when GRUB runs them: their arguments are *conditional*.
* Ignition's kargs helper looks only at *unindented* lines matching
  ``^set linux_append="..."$``, drops the literal ``$linux_append``, joins the words into one list
  and, when it changes the list, replaces those lines with one line
  ``set linux_append="$linux_append <args>"`` at the end of the file.

:class:`GrubCfg.edit` consolidates the same way (the Ignition-visible lines are removed and one
line is appended at the end, after every OEM line), edits other ``linux_append`` assignments in
place only to remove arguments, keeps every other line byte for byte, and then re-evaluates the
candidate: if the rewrite would change any argument it was not asked to change, it refuses.

Standard library only: this file runs on the managed host.
"""

import collections
import os
import re

from ansible_collections.flatcar.fips.plugins.module_utils.files import (
    LineError,
    newline,
    split_lines,
)

# Where the OEM partition is mounted: /oem since stable 3760.2.0 / LTS 4081 (/usr/share/oem is
# then a symlink to it), /usr/share/oem before.
OEM_DIR = "/oem"
LEGACY_OEM_DIR = "/usr/share/oem"


def default_path():
    """The OEM grub.cfg of this host (kernel_args writes it, fips_facts reads it)."""
    if os.path.isdir(OEM_DIR):
        return os.path.join(OEM_DIR, "grub.cfg")
    return os.path.join(LEGACY_OEM_DIR, "grub.cfg")


VARIABLE = "linux_append"
BASE_REFS = ("$linux_append", "${linux_append}")
CONSOLIDATED_TEMPLATE = 'set linux_append="$linux_append %s"'

# Ignition's kargs helper: unindented, double-quoted, nothing after the closing quote.
_IGNITION_LINE = re.compile(r'^set linux_append="([^"]*)"$')
# Characters an argument may not contain: they would need GRUB quoting or escaping, or they
# would end the statement.
_FORBIDDEN_ARG_CHARS = frozenset("\"'$\\;")

_BLOCK_OPEN = frozenset(("if", "while", "until", "for"))
_BLOCK_CLOSE = frozenset(("fi", "done"))
_BRACE_OPEN = frozenset(("function", "menuentry", "submenu"))
_LEADING_KEYWORDS = frozenset(("then", "else", "do"))


class GrubCfgError(LineError):
    """A ``grub.cfg`` this module cannot evaluate or cannot safely rewrite."""


Arg = collections.namedtuple("Arg", "word lineno conditional")


class Assignment:
    """One assignment to ``linux_append`` found in the file."""

    def __init__(self, index, line, value_start, value_end, words, conditional, consolidatable):
        self.index = index  # 0-based line index
        self.lineno = index + 1
        self.line = line
        self.value_start = value_start  # span of the value inside the quotes, in line
        self.value_end = value_end
        self.words = words
        self.conditional = conditional
        self.consolidatable = consolidatable

    @property
    def base_refs(self):
        return sum(1 for w in self.words if w in BASE_REFS)


def validate_arg(arg):
    """Return why ``arg`` cannot be written as a kernel argument, or None when it can."""
    if not isinstance(arg, str) or arg == "":
        return "an argument must be a non-empty string"
    if any(c.isspace() for c in arg):
        return "%r contains whitespace; give each argument as its own list item" % arg
    bad = sorted(set(arg) & _FORBIDDEN_ARG_CHARS)
    if bad:
        return "%r contains %s, which GRUB would interpret; it cannot be written safely" % (
            arg, " ".join(repr(c) for c in bad))
    if any(ord(c) < 32 or ord(c) == 127 for c in arg):
        return "%r contains a control character" % arg
    return None


def arg_key(word):
    """``fips=1`` -> ``fips``; ``quiet`` -> ``quiet``."""
    return word.split("=", 1)[0]


def matches_absent(word, absent):
    """True when ``word`` is removed by an ``absent`` item: a bare key matches any value."""
    for item in absent:
        if "=" in item:
            if word == item:
                return True
        elif arg_key(word) == item:
            return True
    return False


def split_cmdline(text):
    """Split a kernel command line (``/proc/cmdline``) into words; double quotes group."""
    words, current, quoted, started = [], [], False, False
    for c in text:
        if c == '"':
            quoted = not quoted
            current.append(c)
            started = True
        elif c.isspace() and not quoted:
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
            started = True
    if started:
        words.append("".join(current))
    return words


def split_proc_cmdline(text):
    """``(kernel_args, init_args)`` of ``/proc/cmdline``: the words after ``--`` are passed to
    init, not to the kernel (``fips=1`` there does nothing)."""
    words = split_cmdline(text)
    if "--" not in words:
        return words, []
    cut = words.index("--")
    return words[:cut], words[cut + 1:]


def _statements(text):
    """Split one line into statements, each a list of ``(word, start, end)``.

    Understands double and single quotes, backslash escapes, ``;`` and ``#`` comments.
    Returns ``(statements, comment_start, unterminated)``.
    """
    statements, words = [], []
    i, n = 0, len(text)
    comment_start = None
    unterminated = False
    while i < n:
        c = text[i]
        if c in " \t\r":
            i += 1
            continue
        if c == ";":
            statements.append(words)
            words = []
            i += 1
            continue
        if c == "#":
            comment_start = i
            break
        start = i
        while i < n and text[i] not in " \t\r;":
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch in "\"'":
                quote = ch
                i += 1
                while i < n and text[i] != quote:
                    if quote == '"' and text[i] == "\\":
                        i += 1
                    i += 1
                if i >= n:
                    unterminated = True
                    i = n
                    break
            i += 1
        words.append((text[start:min(i, n)], start, min(i, n)))
    if words:
        statements.append(words)
    return statements, comment_start, unterminated


def _parse_value(raw, lineno):
    """Parse the text after ``linux_append=``; return ``(offset, length, words, double_quoted)``."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        quote, inner, offset = raw[0], raw[1:-1], 1
    elif raw[:1] in ("\"", "'") or raw[-1:] in ("\"", "'"):
        raise GrubCfgError("the value of linux_append is not a single quoted string (%s); "
                           "write it as set linux_append=\"...\"" % raw, lineno)
    else:
        quote, inner, offset = None, raw, 0
    for c in ("\"", "'", "\\"):
        if c in inner:
            raise GrubCfgError("the value of linux_append contains %r; quoted or escaped arguments "
                               "cannot be evaluated or rewritten safely" % c, lineno)
    words = inner.split()
    for w in words:
        if "$" in w and w not in BASE_REFS:
            raise GrubCfgError("the value of linux_append refers to another variable (%s), so the "
                               "kernel arguments cannot be known from the file" % w, lineno)
        if quote == "'" and w in BASE_REFS:
            raise GrubCfgError("$linux_append inside single quotes is not expanded by GRUB; "
                               "use double quotes", lineno)
    return offset, len(inner), words, quote == '"'


class GrubCfg:
    """A parsed OEM ``grub.cfg`` (the text may be empty: a missing file is an empty one)."""

    def __init__(self, text):
        self.text = text
        self.lines = split_lines(text)
        self.assignments = self._scan()

    @property
    def newline(self):
        """The file's dominant line ending, used for lines this module adds."""
        return newline(eol for _line, eol in self.lines)

    def _scan(self):
        assignments = []
        depth = 0
        for index, (line, _eol) in enumerate(self.lines):
            lineno = index + 1
            stripped = line.lstrip(" \t")
            if stripped.startswith("#") or not stripped.strip():
                continue
            statements, comment_start, unterminated = _statements(line)
            if unterminated and VARIABLE in line:
                raise GrubCfgError("unterminated quote on a line that mentions linux_append",
                                   lineno)
            for statement in statements:
                words = list(statement)
                while words and words[0][0] in _LEADING_KEYWORDS:
                    words.pop(0)
                texts = [w[0] for w in words]
                if not texts:
                    continue
                head = texts[0]
                found = self._assignment(index, line, words, texts, depth, len(statements),
                                         comment_start)
                if found is not None:
                    assignments.append(found)
                if head in _BLOCK_OPEN:
                    depth += 1
                elif head in _BLOCK_CLOSE or head == "}":
                    depth = max(depth - 1, 0)
                elif head in _BRACE_OPEN and texts[-1] == "{":
                    depth += 1
        return assignments

    def _assignment(self, index, line, words, texts, depth, n_statements, comment_start):
        lineno = index + 1
        head = texts[0]
        if head == "unset" and VARIABLE in texts[1:]:
            raise GrubCfgError("unset linux_append cannot be evaluated; remove the line or use "
                               "set linux_append=\"...\"", lineno)
        if head == "set" and len(texts) > 1 and texts[1].startswith(VARIABLE + "="):
            target = words[1]
            extra = texts[2:]
        elif head.startswith(VARIABLE + "="):
            target = words[0]
            extra = texts[1:]
        else:
            return None
        if extra:
            raise GrubCfgError("unexpected text after the linux_append value: %s" % " ".join(extra),
                               lineno)
        raw = target[0][len(VARIABLE) + 1:]
        offset, length, value_words, double_quoted = _parse_value(raw, lineno)
        value_start = target[1] + len(VARIABLE) + 1 + offset
        unindented = not line[:1].isspace()
        if comment_start is not None and unindented and head == "set" and depth == 0:
            raise GrubCfgError("a comment follows set linux_append on the same line; move the "
                               "comment to a line of its own so that it survives the rewrite",
                               lineno)
        consolidatable = (
            depth == 0 and unindented and head == "set" and double_quoted
            and n_statements == 1 and _IGNITION_LINE.match(line.rstrip(" \t\r")) is not None
        )
        return Assignment(index, line, value_start, value_start + length, value_words,
                          depth > 0, consolidatable)

    def evaluate(self):
        """The arguments GRUB puts in ``$linux_append``, in order, as :class:`Arg` tuples.

        Arguments from assignments inside blocks are marked ``conditional``. The value coming in
        from the main config (``$linux_append`` before the OEM file is sourced) is empty on
        Flatcar and is not part of the result.
        """
        base = object()
        args = [base]
        for a in self.assignments:
            refs = a.base_refs
            if refs > 1:
                raise GrubCfgError("linux_append refers to $linux_append more than once", a.lineno)
            if a.conditional and refs == 0:
                raise GrubCfgError(
                    "linux_append is replaced (no $linux_append in the value) inside an if/for/"
                    "while/function block, so the kernel command line depends on a condition "
                    "that a rewrite cannot preserve; write it as "
                    "set linux_append=\"$linux_append ...\"", a.lineno)
            new = []
            for w in a.words:
                if w in BASE_REFS:
                    new.extend(args)
                else:
                    new.append(Arg(w, a.lineno, a.conditional))
            args = new
        return [x for x in args if x is not base]

    def configured_args(self):
        """Arguments the kernel always gets from this file."""
        return [a.word for a in self.evaluate() if not a.conditional]

    def conditional_args(self):
        """Arguments the kernel gets only when a condition in the file holds."""
        return [a.word for a in self.evaluate() if a.conditional]

    def edit(self, present=(), absent=()):
        """Compute the file that makes ``present`` args always apply and ``absent`` ones never.

        An item ``key=value`` in ``present`` replaces other values of ``key``; list every value
        to keep several. A bare key in ``absent`` removes the key with any value.
        Returns an :class:`Edit`; raises :class:`GrubCfgError` or :class:`ValueError`.
        """
        present = _unique(present)
        absent = _unique(absent)
        for item in present + absent:
            problem = validate_arg(item)
            if problem:
                raise ValueError(problem)
        for item in present:
            if matches_absent(item, absent):
                raise ValueError("%r is listed in present and matched by absent" % item)
        present_keys = {arg_key(p) for p in present}

        def unwanted(word):
            if matches_absent(word, absent):
                return True
            return arg_key(word) in present_keys and word not in present

        before = self.evaluate()
        kept = [a for a in before if not unwanted(a.word)]
        removed = [a for a in before if unwanted(a.word)]
        always = {a.word for a in kept if not a.conditional}
        added = [p for p in present if p not in always]

        # Words to drop from assignments that stay in place (indented or inside blocks), even
        # where a later line overrides them: "absent" means absent from the file.
        in_place = {}
        for a in self.assignments:
            if a.consolidatable:
                continue
            words = [w for w in a.words if w in BASE_REFS or not unwanted(w)]
            if words != a.words:
                in_place[a.index] = a.line[:a.value_start] + " ".join(words) + a.line[a.value_end:]

        if not removed and not added and not in_place:
            return Edit(self, self.text, before, [], [])

        consolidated_lines = {a.index for a in self.assignments if a.consolidatable}
        consolidated = [a.word for a in kept
                        if not a.conditional and a.lineno - 1 in consolidated_lines] + added
        out = []
        for index, (line, eol) in enumerate(self.lines):
            if index in consolidated_lines:
                continue
            out.append([in_place.get(index, line), eol])
        if consolidated:
            if out and not out[-1][1]:
                out[-1][1] = self.newline
            out.append([CONSOLIDATED_TEMPLATE % " ".join(consolidated), self.newline])
        new_text = "".join(line + eol for line, eol in out)

        candidate = GrubCfg(new_text)
        after = candidate.evaluate()
        expected = collections.Counter((a.word, a.conditional) for a in kept)
        expected.update((w, False) for w in added)
        actual = collections.Counter((a.word, a.conditional) for a in after)
        if expected != actual:
            raise GrubCfgError(self._explain(expected, actual, before))
        return Edit(self, new_text, after, [a.word for a in removed], added)

    def _explain(self, expected, actual, before):
        gained = actual - expected
        lost = expected - actual
        parts = []
        for (word, conditional), _count in sorted(gained.items()):
            sources = sorted({a.lineno for a in self._all_words() if a.word == word})
            parts.append("%s%s would start to reach the kernel (written on line %s, where a "
                         "later line overrides it today)"
                         % (word, " (conditional)" if conditional else "",
                            ", ".join(str(n) for n in sources) or "?"))
        for (word, conditional), _count in sorted(lost.items()):
            sources = sorted({a.lineno for a in before if a.word == word})
            parts.append("%s%s would stop reaching the kernel (line %s)"
                         % (word, " (conditional)" if conditional else "",
                            ", ".join(str(n) for n in sources) or "?"))
        return ("consolidating the linux_append lines would change kernel arguments this task "
                "does not manage: %s. This happens when an indented or conditional linux_append "
                "line is overridden by a later set linux_append=\"...\" without $linux_append; "
                "edit the file so that the OEM line comes first, then retry" % "; ".join(parts))

    def _all_words(self):
        for a in self.assignments:
            for w in a.words:
                if w not in BASE_REFS:
                    yield Arg(w, a.lineno, a.conditional)


class Edit(collections.namedtuple("Edit", "original text args removed added")):
    """The result of :meth:`GrubCfg.edit`."""

    __slots__ = ()

    @property
    def changed(self):
        return self.text != self.original.text

    @property
    def configured_args(self):
        return [a.word for a in self.args if not a.conditional]

    @property
    def conditional_args(self):
        return [a.word for a in self.args if a.conditional]


def _unique(items):
    seen, out = set(), []
    for item in items or ():
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
