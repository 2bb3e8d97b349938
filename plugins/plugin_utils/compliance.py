# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one judge: compliance checks (data) evaluated over ``flatcar_fips`` facts.

Controller side only (needs ``jmespath``). Used by the ``fips_facts`` action (ad hoc facts carry
their verdict), the ``fips_compliance`` and ``fips_report`` filters, the ``fips_mode`` role and
the report writer, so that a check id, a title or a remediation exists in exactly one place:
``data/compliance_checks.yml``.

Truth has three values. A check passes only when its query returns exactly its ``expect``
value; it is unknown (``passed: null``, with the reason) when its data is missing, when its
layer was not gathered or could not be read, when its ``unknown_when`` query finds something
(for example LUKS devices that could not be read), or when the query cannot be evaluated on
these facts. Unknown is never counted as a pass: the verdict of a host with an unknown check is
never ``enabled``.
"""

import os
import re

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
except ImportError:  # reported by load_checks/evaluate
    jmespath = None
    JMESPathError = Exception

import yaml

try:  # libyaml's loader when PyYAML has it: the same data, read in a tenth of the time
    from yaml import CSafeLoader as SafeLoader
except ImportError:
    from yaml import SafeLoader

from ansible_collections.flatcar.fips.plugins.module_utils import layers

LAYERS = layers.ALL
# Layers fips_facts gathers on request; "system" is always gathered.
GATHERED_LAYERS = layers.GATHERED
REQUIRED = ("id", "layer", "title", "query", "expect", "remediation")
OPTIONAL = ("unknown_when", "unknown_reason", "description")
DEFAULT_CHECKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                              "compliance_checks.yml")
STATUSES = ("enabled", "pending_reboot", "partial", "disabled", "unknown")


class CheckError(ValueError):
    """A malformed check: raised when the checks are loaded, naming the check."""


def _require_jmespath():
    if jmespath is None:
        raise CheckError("the compliance checks need the jmespath Python library on the "
                         "controller (pip install jmespath)")


def shipped_checks():
    with open(DEFAULT_CHECKS) as f:
        return yaml.load(f, Loader=SafeLoader)


def validate(check, where="check"):
    """Raise :class:`CheckError` naming the check when it cannot be evaluated as written."""
    _require_jmespath()
    if not isinstance(check, dict):
        raise CheckError("%s must be a dict with %s, got %r"
                         % (where, ", ".join(REQUIRED), check))
    name = check.get("id") or where
    missing = [k for k in REQUIRED if k not in check]
    if missing:
        raise CheckError("check %s lacks %s" % (name, ", ".join(missing)))
    unknown = sorted(set(check) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise CheckError("check %s has unknown keys %s (allowed: %s)"
                         % (name, ", ".join(unknown), ", ".join(REQUIRED + OPTIONAL)))
    for key in ("id", "title", "query", "remediation"):
        if not isinstance(check[key], str) or not check[key].strip():
            raise CheckError("check %s: %s must be a non-empty string" % (name, key))
    if check["layer"] not in LAYERS:
        raise CheckError("check %s: layer %r is not one of %s"
                         % (name, check["layer"], ", ".join(LAYERS)))
    for key in ("query", "unknown_when"):
        if key in check:
            try:
                jmespath.compile(check[key])
            except JMESPathError as e:
                raise CheckError("check %s: %s %r does not parse as JMESPath: %s"
                                 % (name, key, check[key], _one_line(e))) from e


def merge(checks, extra=None):
    """The checks in order, ``extra`` added (a check with the id of an earlier one replaces
    it); every check validated."""
    by_id, order = {}, []
    for i, check in enumerate(list(checks) + list(extra or [])):
        validate(check, "check #%d" % (i + 1))
        if check["id"] not in by_id:
            order.append(check["id"])
        by_id[check["id"]] = check
    return [by_id[i] for i in order]


_SHIPPED = {}


def load_checks(checks=None, extra=None):
    """The checks to evaluate, validated, with their queries compiled once (a fleet report
    evaluates them for every host). The shipped list is read once per process."""
    if checks is None and not extra:
        if "checks" not in _SHIPPED:
            _SHIPPED["checks"] = _compile(merge(shipped_checks()))
        return _SHIPPED["checks"]
    return _compile(merge(shipped_checks() if checks is None else checks, extra))


class Prepared(list):
    """Checks ready to evaluate (see :func:`load_checks`)."""


def _compile(checks):
    prepared = Prepared()
    for check in checks:
        ready = dict(check, _query=jmespath.compile(check["query"]))
        if "unknown_when" in check:
            ready["_unknown_when"] = jmespath.compile(check["unknown_when"])
        prepared.append(ready)
    return prepared


def prepare(checks=None, extra=None):
    """``checks`` as they are when already prepared, else :func:`load_checks`."""
    return checks if isinstance(checks, Prepared) else load_checks(checks, extra)


def _explain(error):
    """A JMESPath evaluation error in words (its own text is a multi-line parser dump)."""
    name = getattr(error, "function_name", None)
    if name:
        expected = getattr(error, "expected_types", None) or []
        return "%s() got %s (%s), expected %s" % (
            name, _describe(getattr(error, "current_value", None)),
            getattr(error, "actual_type", "?"), " or ".join(expected) or "another type")
    return _one_line(error)


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__


def same(a, b):
    """Equality where true is not 1 (JMESPath and YAML both tell booleans from numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def plain(value):
    """Plain Python types: jmespath looks at type names, which Ansible's tagged values change."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _errors_for(facts, check):
    """What fips_facts said it could not read for this check: ``errors`` keys for the check's
    layer, and for the top-level key its query reads (``layer`` and ``layer.*``)."""
    errors = facts.get("errors") or {}
    roots = {check["layer"], re.split(r"[^A-Za-z0-9_]", check["query"].strip(), maxsplit=1)[0]}
    return ["%s: %s" % (k, v) for k, v in sorted(errors.items())
            if any(k == r or k.startswith(r + ".") for r in roots)]


def _empty(value):
    return value is None or value is False or value in ({}, [], "")


def evaluate(facts, check):
    """One check over one host's facts: a dict with ``passed`` True, False or None."""
    result = dict(id=check["id"], layer=check["layer"], title=check["title"],
                  expect=check["expect"], remediation=check["remediation"], actual=None)
    gathered = facts.get("gathered")
    layer = check["layer"]
    if gathered is not None and layer in GATHERED_LAYERS and layer not in gathered:
        # Not looked at: unknown, and left out of the host's status (which speaks of the
        # gathered layers, listed in ``gathered``), its layers and its problems.
        result.update(passed=None, reason="the %s layer was not gathered" % layer,
                      gathered=False)
        return result
    try:
        query = check.get("_query") or jmespath.compile(check["query"])
        actual = query.search(facts)
        blocker = None
        if "unknown_when" in check:
            blocker = (check.get("_unknown_when") or jmespath.compile(check["unknown_when"]))\
                .search(facts)
    except JMESPathError as e:
        result.update(passed=None, reason="the query %s cannot be evaluated on these facts: %s"
                      % (check["query"], _explain(e)))
        return result
    result["actual"] = actual
    if not _empty(blocker):
        why = check.get("unknown_reason", "%s is not empty" % check["unknown_when"])
        result.update(passed=None, reason="%s: %s" % (why, _describe(blocker)))
    elif actual is None:
        errors = _errors_for(facts, check)
        result.update(passed=None, reason=("could not be read: " + "; ".join(errors)) if errors
                      else "no data (%s is null)" % check["query"])
    elif same(actual, plain(check["expect"])):
        result.update(passed=True, reason="as expected")
    else:
        result.update(passed=False, reason="expected %s, found %s"
                      % (_describe(check["expect"]), _describe(actual)))
    return result


def _describe(value):
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (k, _describe(v)) for k, v in value.items()) \
            if value else "{}"
    if isinstance(value, list):
        return "[%s]" % ", ".join(_describe(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def facts_of(value):
    """``ansible_facts.flatcar_fips`` given it, or a dict holding it."""
    if not isinstance(value, dict):
        raise CheckError("expected ansible_facts.flatcar_fips (a dict), got %s"
                         % type(value).__name__)
    if isinstance(value.get("flatcar_fips"), dict):
        value = value["flatcar_fips"]
    return plain(value)


def compliance(facts, checks=None, extra=None):
    """Evaluate the checks (shipped, or ``checks``; plus ``extra``) over one host's facts."""
    _require_jmespath()
    facts = facts_of(facts)
    return [evaluate(facts, check) for check in prepare(checks, extra)]


def _looked_at(results):
    return [r for r in results if r.get("gathered", True)]


def layer_results(results):
    """``{layer: pass | fail | unknown}`` for the gathered layers that have checks."""
    out = {}
    for layer in LAYERS:
        values = [r["passed"] for r in _looked_at(results) if r["layer"] == layer]
        if not values:
            continue
        if any(v is False for v in values):
            out[layer] = "fail"
        elif all(v is True for v in values):
            out[layer] = "pass"
        else:
            out[layer] = "unknown"
    return out


def status(results):
    """Where the host stands, from the check results alone.

    ``enabled``: every check passed. ``pending_reboot``: only the running kernel is not yet in
    FIPS mode, everything else passed. ``disabled``: neither the kernel argument nor the OpenSSL
    configuration is there, and the kernel is not in FIPS mode (or has no FIPS support).
    ``unknown``: nothing failed but something could not be known.
    ``partial``: anything else. Layers that were not gathered do not count.
    """
    by_id = {r["id"]: r["passed"] for r in _looked_at(results)}
    values = list(by_id.values())
    if values and all(v is True for v in values):
        return "enabled"
    if by_id.get("kernel_fips_configured") is False and \
            by_id.get("kernel_fips_running") is not True and \
            by_id.get("openssl_configured", False) is False:  # absent: not gathered
        return "disabled"
    others = [v for k, v in by_id.items() if k != "kernel_fips_running"]
    if by_id.get("kernel_fips_running") is False and by_id.get("kernel_fips_configured") and \
            all(v is True for v in others):
        return "pending_reboot"
    if not any(v is False for v in values):
        return "unknown"
    return "partial"


def problems(results):
    """Every check that did not pass: what, why, what to do (unknown ones included)."""
    return [dict(id=r["id"], layer=r["layer"], result="fail" if r["passed"] is False else
                 "unknown", message="%s: %s" % (r["title"], r["reason"]),
                 remediation=r["remediation"])
            for r in _looked_at(results) if r["passed"] is not True]


def verdict(facts, checks=None, extra=None):
    """``{status, layers, checks, problems}`` for one host."""
    results = compliance(facts, checks, extra)
    return dict(status=status(results), layers=layer_results(results), checks=results,
                problems=problems(results))


# The layer of a fact (and of its errors) that fips_facts reads with a layer.
_LAYER_OF = {key: layer for layer, keys in layers.READ_WITH.items() for key in keys}
VERDICT_KEYS = ("status", "layers", "checks", "problems")


def merge_reads(earlier, fresh):
    """One host's facts from two reads of the same run: the layers ``fresh`` read
    (``fresh["gathered"]``, with ``system``), the others as ``earlier`` read them; ``errors``
    likewise; ``read_again`` names the fresh layers. Without a verdict: judge the result."""
    layers_read = list(fresh.get("gathered") or [])
    merged = {k: v for k, v in earlier.items() if k not in VERDICT_KEYS}
    for key in ("system", "duration"):
        merged[key] = fresh.get(key)
    for layer in layers_read:
        for key in (layer, *layers.READ_WITH.get(layer, ())):
            merged[key] = fresh.get(key)
    kept = {k: v for k, v in (earlier.get("errors") or {}).items()
            if _LAYER_OF.get(k.split(".")[0], k.split(".")[0]) not in [*layers_read, "system"]}
    merged["errors"] = dict(kept, **(fresh.get("errors") or {}))
    merged["gathered"] = [layer for layer in GATHERED_LAYERS
                          if layer in layers_read or layer in (earlier.get("gathered") or [])]
    merged["read_again"] = layers_read
    return merged
