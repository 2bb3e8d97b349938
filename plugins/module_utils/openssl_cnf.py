# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse, edit and render OpenSSL configuration files (``openssl.cnf``, ``fipsmodule.cnf``).

The parser keeps every line as it was (comments, blank lines, alignment, continuation lines),
so that rendering an unedited file gives back the same bytes; edits touch only the lines they
must. It follows OpenSSL's ``conf_def.c`` for what matters here:

* ``[ section ]`` headers; keys before the first header belong to the default section;
* ``name = value``, with ``#`` starting a comment outside quotes and not escaped, and a trailing
  backslash continuing the line;
* ``.include [=] path`` and ``.pragma [=] ...`` directives; an included file's keys land in its
  own sections (``fipsmodule.cnf`` opens ``[fips_sect]``), so nothing of the including file may
  follow an ``.include`` in the default section.

:func:`enable_fips` and :func:`fips_status` hold the FIPS-specific rules, shared by the
``openssl_fips`` writer and ``fips_facts``.

Standard library only: this file runs on the managed host.
"""

import re

from ansible_collections.flatcar.fips.plugins.module_utils.files import LineError, split_lines

DEFAULT = None  # the default section (keys before the first header)
_SECTION = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]\s*(#.*)?$")
_DIRECTIVE = re.compile(r"^\s*\.(include|pragma)\b\s*=?\s*(.*?)\s*$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.:;,!%&*+\-/<>@\\^`|~$]+?)\s*=\s*(.*)$")
MARKER = "flatcar.fips"

FIPS_COMMENT = "# FIPS mode (flatcar.fips.openssl_fips): fips and base providers only, fips=yes."


class OpenSSLCnfError(LineError):
    """A configuration file OpenSSL itself would reject (or this parser cannot follow)."""


def _strip_comment(text):
    """Remove an unquoted, unescaped ``#`` comment."""
    out, quote, i = [], None, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        out.append(c)
        i += 1
    return "".join(out)


def _continues(text):
    stripped = _strip_comment(text).rstrip()
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    return backslashes % 2 == 1


class AfterInclude(tuple):
    """The unknown section that keys after an ``.include`` line fall into."""

    def __new__(cls, path):
        return tuple.__new__(cls, ("after .include", path))


class Line:
    """One logical entry: a key, a header, a directive, or a blank/comment line.

    A key continued with backslashes spans several physical lines; ``raw`` holds them all.
    """

    def __init__(self, kind, raw, lineno, section=DEFAULT, key=None, value=None, directive=None):
        self.kind = kind  # blank | comment | section | directive | key
        self.raw = raw  # exact text, line endings included
        self.lineno = lineno
        self.section = section  # the section this line belongs to (a header: its own name)
        self.key = key
        self.value = value
        self.directive = directive  # (name, argument) for .include / .pragma


class OpenSSLCnf:
    """A parsed OpenSSL configuration file."""

    def __init__(self, text):
        self.text = text
        self.lines = self._parse(text)

    @staticmethod
    def _parse(text):
        physical = split_lines(text)
        out = []
        section = DEFAULT
        i = 0
        while i < len(physical):
            start = i
            content, eol = physical[i]
            raw = content + eol
            logical = content
            while _continues(logical) and i + 1 < len(physical):
                i += 1
                nxt, nxt_eol = physical[i]
                logical = _strip_comment(logical).rstrip()[:-1] + nxt
                raw += nxt + nxt_eol
            i += 1
            lineno = start + 1
            stripped = logical.strip()
            if not stripped:
                out.append(Line("blank", raw, lineno, section))
                continue
            if stripped.startswith("#"):
                out.append(Line("comment", raw, lineno, section))
                continue
            m = _SECTION.match(logical)
            if m:
                section = m.group(1)
                if section == "default":
                    section = DEFAULT
                out.append(Line("section", raw, lineno, section))
                continue
            m = _DIRECTIVE.match(_strip_comment(logical))
            if m:
                out.append(Line("directive", raw, lineno, section,
                                directive=(m.group(1), m.group(2))))
                if m.group(1) == "include":
                    # Keys that follow land in whatever section the included file opened
                    # last: not in the section this file had open.
                    section = AfterInclude(m.group(2))
                continue
            m = _KEY.match(logical)
            if m:
                key = m.group(1)
                value = _strip_comment(m.group(2)).strip()
                out.append(Line("key", raw, lineno, section, key=key, value=value))
                continue
            raise OpenSSLCnfError("not a [section], name = value, .include or comment line: %s"
                                  % stripped, lineno)
        return out

    # --- reading -------------------------------------------------------------------------

    def render(self):
        return "".join(line.raw for line in self.lines)

    @property
    def newline(self):
        crlf = sum(1 for line in self.lines if line.raw.endswith("\r\n"))
        lf = sum(1 for line in self.lines if line.raw.endswith("\n"))
        return "\r\n" if crlf * 2 > lf else "\n"

    def sections(self):
        names = []
        for line in self.lines:
            if line.kind == "section" and line.section not in names:
                names.append(line.section)
        return names

    def has_section(self, section):
        return any(line.kind == "section" and line.section == section for line in self.lines)

    def get(self, section, key, default=None):
        """The value OpenSSL uses: the last assignment of ``key`` in ``section``."""
        value = default
        for line in self.lines:
            if line.kind == "key" and line.section == section and line.key == key:
                value = line.value
        return value

    def items(self, section):
        """``{key: value}`` of a section, last assignment winning, in first-seen order."""
        result = {}
        for line in self.lines:
            if line.kind == "key" and line.section == section:
                result[line.key] = line.value
        return result

    def includes(self):
        return [(line.directive[1], line) for line in self.lines
                if line.kind == "directive" and line.directive[0] == "include"]

    # --- editing -------------------------------------------------------------------------

    def _key_line(self, key, value):
        return Line("key", "%s = %s%s" % (key, value, self.newline), 0, key=key, value=value)

    def _section_end(self, section):
        """Where a new key of ``section`` goes: after its last key, before any ``.include``
        in it (None when the section does not exist)."""
        end = 0 if section is DEFAULT else None
        for index, line in enumerate(self.lines):
            if line.section != section:
                continue
            if line.kind in ("section", "key"):
                end = index + 1
        return end

    def _ensure_newline_at_end(self):
        if self.lines and not self.lines[-1].raw.endswith("\n"):
            self.lines[-1].raw += self.newline

    def set(self, section, key, value):
        """Make ``key = value`` in ``section``; edit the last assignment in place or add one."""
        last = None
        for line in self.lines:
            if line.kind == "key" and line.section == section and line.key == key:
                last = line
        if last is not None:
            if last.value == value:
                return False
            eol = self.newline if last.raw.endswith("\n") else ""
            if last.raw.endswith("\r\n"):
                eol = "\r\n"
            indent = re.match(r"\s*", last.raw).group(0)
            last.raw = "%s%s = %s%s" % (indent, key, value, eol)
            last.value = value
            return True
        line = self._key_line(key, value)
        line.section = section
        end = self._section_end(section)
        if end is None:
            self.add_section(section)
            end = len(self.lines)
        if end == len(self.lines):
            self._ensure_newline_at_end()
        self.lines.insert(end, line)
        return True

    def remove(self, section, key):
        before = len(self.lines)
        self.lines = [line for line in self.lines
                      if not (line.kind == "key" and line.section == section and line.key == key)]
        return len(self.lines) != before

    def add_section(self, section, comment=None):
        self._ensure_newline_at_end()
        nl = self.newline
        if self.lines and self.lines[-1].kind != "blank":
            self.lines.append(Line("blank", nl, 0, self.lines[-1].section))
        if comment:
            self.lines.append(Line("comment", comment + nl, 0, section))
        self.lines.append(Line("section", "[%s]%s" % (section, nl), 0, section))

    def add_include(self, path):
        """Append ``.include path`` as the last line: nothing of this file can then fall into
        the section the included file opens."""
        self._ensure_newline_at_end()
        nl = self.newline
        if self.lines and self.lines[-1].kind != "blank":
            self.lines.append(Line("blank", nl, 0, self.lines[-1].section))
        section = self.lines[-1].section if self.lines else DEFAULT
        self.lines.append(Line("directive", ".include %s%s" % (path, nl), 0, section,
                               directive=("include", path)))

    def remove_line(self, target):
        self.lines = [line for line in self.lines if line is not target]


# --- FIPS rules ------------------------------------------------------------------------------

def fips_section_of(fipsmodule):
    """The section of a ``fipsmodule.cnf`` that configures the provider (holds ``module-mac``)."""
    for section in fipsmodule.sections():
        if fipsmodule.get(section, "module-mac") is not None:
            return section
    return None


def _activated(cnf, section):
    value = cnf.get(section, "activate") if section else None
    return value is not None and value.strip().lower() in ("1", "yes", "true", "on")


def _includes_path(cnf, path, resolve):
    for target, _line in cnf.includes():
        if target == path or resolve(target) == resolve(path):
            return True
    return False


def fips_status(cnf, fipsmodule_path, fipsmodule=None, resolve=lambda p: p):
    """What an ``openssl.cnf`` configures, as far as FIPS mode is concerned (no OpenSSL run).

    ``fipsmodule`` is the parsed ``fipsmodule.cnf`` (or None when missing). Returns a dict.
    """
    init = cnf.get(DEFAULT, "openssl_conf")
    providers_section = cnf.get(init, "providers") if init else None
    providers = cnf.items(providers_section) if providers_section else {}
    fips_section = providers.get("fips")
    fips_module_section = fips_section_of(fipsmodule) if fipsmodule is not None else None
    alg_section = cnf.get(init, "alg_section") if init else None
    default_properties = cnf.get(alg_section, "default_properties") if alg_section else None
    active = sorted(name for name, section in providers.items() if _activated(cnf, section)
                    or (name == "fips" and fipsmodule is not None
                        and _activated(fipsmodule, section)))
    return dict(
        openssl_conf=init,
        providers_section=providers_section,
        providers=sorted(providers),
        activated=active,
        includes_fipsmodule=_includes_path(cnf, fipsmodule_path, resolve),
        fips_section=fips_section,
        fips_section_matches=fips_section is not None and fips_section == fips_module_section,
        alg_section=alg_section,
        default_properties=default_properties,
        default_properties_fips=_has_fips_yes(default_properties),
        config_diagnostics=cnf.get(DEFAULT, "config_diagnostics"),
        fips_enabled=(fips_section is not None and fips_section == fips_module_section
                      and "fips" in active and "base" in active and "default" not in active
                      and _includes_path(cnf, fipsmodule_path, resolve)),
    )


def _has_fips_yes(properties):
    if not properties:
        return False
    return any(p.strip().replace(" ", "") in ("fips=yes", "fips") for p in properties.split(","))


def _without_fips_property(properties):
    kept = [p.strip() for p in (properties or "").split(",")
            if p.strip() and p.strip().replace(" ", "") not in ("fips=yes", "fips", "fips=no")]
    return ",".join(kept)


def enable_fips(cnf, fipsmodule_path, fips_section="fips_sect", default_properties_fips=True,
                resolve=lambda p: p):
    """Edit ``cnf`` in place into the FIPS configuration; return a list of what changed.

    The documented Flatcar stanza: ``openssl_conf`` names the init section, which loads the
    ``fips`` (section from ``fipsmodule.cnf``) and ``base`` providers and nothing else;
    ``config_diagnostics = 1``; ``.include`` of ``fipsmodule.cnf`` as the last line; and, with
    ``default_properties_fips``, ``alg_section`` with ``default_properties = fips=yes``.
    Section names already used by the file are kept; other lines are not touched.
    """
    changes = []
    init = cnf.get(DEFAULT, "openssl_conf") or "openssl_init"
    if cnf.set(DEFAULT, "openssl_conf", init):
        changes.append("openssl_conf = %s" % init)
    if cnf.set(DEFAULT, "config_diagnostics", "1"):
        changes.append("config_diagnostics = 1")
    providers = cnf.get(init, "providers") if cnf.has_section(init) else None
    providers = providers or "provider_sect"
    base = cnf.items(providers).get("base") or "base_sect"
    alg = cnf.get(init, "alg_section") if cnf.has_section(init) else None
    wanted_sections = [init, providers, base]
    if default_properties_fips:
        alg = alg or "algorithm_sect"
        wanted_sections.append(alg)
    comment = FIPS_COMMENT
    for name in wanted_sections:
        if not cnf.has_section(name):
            cnf.add_section(name, comment)
            comment = None  # one explanatory comment, above the first section added
    if cnf.set(init, "providers", providers):
        changes.append("[%s] providers = %s" % (init, providers))
    current = cnf.items(providers)
    for name in current:
        if name not in ("fips", "base"):
            cnf.remove(providers, name)
            changes.append("[%s] %s removed (only fips and base may be loaded)" % (providers, name))
    if cnf.set(providers, "fips", fips_section):
        changes.append("[%s] fips = %s" % (providers, fips_section))
    if cnf.set(providers, "base", base):
        changes.append("[%s] base = %s" % (providers, base))
    if cnf.set(base, "activate", "1"):
        changes.append("[%s] activate = 1" % base)
    if default_properties_fips:
        if cnf.set(init, "alg_section", alg):
            changes.append("[%s] alg_section = %s" % (init, alg))
        current_props = cnf.get(alg, "default_properties")
        if not _has_fips_yes(current_props):
            rest = _without_fips_property(current_props)
            wanted = "fips=yes" + ("," + rest if rest else "")
            cnf.set(alg, "default_properties", wanted)
            changes.append("[%s] default_properties = %s" % (alg, wanted))
    elif alg and _has_fips_yes(cnf.get(alg, "default_properties")):
        rest = _without_fips_property(cnf.get(alg, "default_properties"))
        if rest:
            cnf.set(alg, "default_properties", rest)
        else:
            cnf.remove(alg, "default_properties")
        changes.append("[%s] default_properties without fips=yes" % alg)

    # exactly one .include of fipsmodule.cnf, followed by a section header or the end of the
    # file (a key after it would land in the section fipsmodule.cnf opens)
    found = [line for target, line in cnf.includes()
             if target == fipsmodule_path or resolve(target) == resolve(fipsmodule_path)
             or target.rsplit("/", 1)[-1] == "fipsmodule.cnf"]
    keep = (len(found) == 1 and found[0].directive[1] == fipsmodule_path
            and _safe_include_position(cnf, found[0]))
    if not keep:
        for line in found:
            cnf.remove_line(line)
        cnf.add_include(fipsmodule_path)
        changes.append(".include %s" % fipsmodule_path)
    return changes


def _safe_include_position(cnf, include):
    after = cnf.lines[cnf.lines.index(include) + 1:]
    for line in after:
        if line.kind in ("blank", "comment"):
            continue
        return line.kind == "section"
    return True
