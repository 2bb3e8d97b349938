# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: built from each host's ``flatcar_fips`` facts by the one judge
(``compliance``), rendered as Markdown, JUnit XML, JSON and one self-contained HTML page.

Controller side only. Used by the ``fips_report`` filter and the ``write_report`` action (the
``flatcar.fips.report`` playbook). Works the same on facts gathered in this run and on facts from
Ansible's fact cache.
"""

import datetime
import html
import json
import os
import xml.etree.ElementTree as ET

from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LAYERS = compliance.LAYERS
RESULT_WORD = {True: "pass", False: "fail", None: "unknown"}
UNKNOWN_AS = ("failure", "skipped")
FORMATS = ("md", "junit", "json", "html")
FILE_NAMES = {"md": "report.md", "junit": "report.junit.xml", "json": "report.json",
              "html": "report.html"}


def collection_version():
    """The version of this collection: MANIFEST.json when installed, galaxy.yml in a checkout."""
    manifest = os.path.join(ROOT, "MANIFEST.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            return json.load(f)["collection_info"]["version"]
    galaxy = os.path.join(ROOT, "galaxy.yml")
    if os.path.exists(galaxy):
        with open(galaxy) as f:
            for line in f:
                if line.startswith("version:"):
                    return line.split(":", 1)[1].strip().strip("'\"")
    return None


def _host_info(facts):
    system = facts.get("system") or {}
    kernel = facts.get("kernel") or {}
    openssl = facts.get("openssl") or {}
    return dict(os=system.get("os_name") or system.get("os_id"),
                os_version=system.get("os_version"), flatcar=system.get("flatcar"),
                kernel=kernel.get("release"), openssl=openssl.get("version"),
                fips_provider=openssl.get("provider_version"))


def host_entry(facts, error=None, checks=None, extra=None):
    """One host's part of the report; ``facts`` None when none were gathered or cached."""
    if not isinstance(facts, dict):
        errors = {"facts": error or "no flatcar_fips facts: the host was not reached, the "
                  "gathering failed, or the fact cache holds none for it"}
        return dict(status="unknown", reachable=False, info={}, layers={}, checks=[],
                    problems=[], errors=errors)
    v = compliance.verdict(facts, checks, extra)
    errors = dict(facts.get("errors") or {})
    if error:
        errors["facts"] = error
    return dict(status=v["status"], reachable=True, info=_host_info(facts), layers=v["layers"],
                checks=v["checks"], problems=v["problems"], errors=errors)


def build(hosts, checks=None, extra=None, unknown_as="failure", generated=None, source=None):
    """``hosts``: ``{name: (facts or None, error or None)}``. Returns the report dict."""
    if unknown_as not in UNKNOWN_AS:
        raise compliance.CheckError("unknown_as must be one of %s, not %r"
                                    % (", ".join(UNKNOWN_AS), unknown_as))
    checks = compliance.load_checks(checks, extra)  # a malformed check fails here, naming it
    entries = {name: host_entry(facts, error, checks)
               for name, (facts, error) in sorted(hosts.items())}
    totals = dict(hosts=len(entries), compliant=0, checks=0, passed=0, failed=0, unknown=0)
    by_status = {}
    for entry in entries.values():
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + 1
        totals["compliant"] += entry["status"] == "enabled"
        for check in entry["checks"]:
            totals["checks"] += 1
            totals[{True: "passed", False: "failed"}.get(check["passed"], "unknown")] += 1
    generated = generated or datetime.datetime.now(datetime.timezone.utc)
    meta = dict(generated=generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
                collection="flatcar.fips %s" % (collection_version() or "(unknown version)"),
                source=source or "facts gathered in this run", unknown_as=unknown_as,
                layers=list(LAYERS))
    return dict(meta=meta, totals=dict(totals, by_status=by_status), hosts=entries,
                noncompliant=[n for n, e in entries.items() if e["status"] != "enabled"])


# --- renderers ---------------------------------------------------------------------------------

def _cell(value):
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    meta, totals = report["meta"], report["totals"]
    out = ["# FIPS mode report", "",
           "Generated %s by %s from %s. Unknown counts as %s." % (
               meta["generated"], meta["collection"], meta["source"],
               "a failure" if meta["unknown_as"] == "failure" else "skipped (opted in)"), "",
           "%d hosts, %d compliant (status `enabled`); checks: %d passed, %d failed, %d unknown."
           % (totals["hosts"], totals["compliant"], totals["passed"], totals["failed"],
              totals["unknown"]), "",
           "| host | status | %s | OS | kernel | OpenSSL | fips provider |" % " | ".join(LAYERS),
           "|---|---|%s---|---|---|---|" % ("---|" * len(LAYERS))]
    for name, h in report["hosts"].items():
        i = h["info"]
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            _cell(name), h["status"], " | ".join(h["layers"].get(la, "-") for la in LAYERS),
            _cell(" ".join(x for x in (i.get("os"),) if x) or "-"), _cell(i.get("kernel") or "-"),
            _cell(i.get("openssl") or "-"), _cell(i.get("fips_provider") or "-")))
    for name, h in report["hosts"].items():
        out += ["", "## %s (%s)" % (name, h["status"]), ""]
        if h["checks"]:
            out += ["| layer | check | result | reason | remediation |", "|---|---|---|---|---|"]
            for c in h["checks"]:
                out.append("| %s | %s | %s | %s | %s |" % (
                    c["layer"], _cell(c["title"]), RESULT_WORD[c["passed"]], _cell(c["reason"]),
                    "" if c["passed"] else _cell(c["remediation"])))
        if h["errors"]:
            out += ["", "Errors (what could not be read):", ""]
            out += ["- `%s`: %s" % (k, _cell(v)) for k, v in sorted(h["errors"].items())]
    return "\n".join(out) + "\n"


def render_junit(report):
    """One test suite per host, one test case per check; unknown is a failure unless the report
    was built with ``unknown_as: skipped``; a host without facts is an error."""
    suites = ET.Element("testsuites", name="flatcar.fips FIPS mode")
    counts = dict(tests=0, failures=0, errors=0, skipped=0)
    for name, h in report["hosts"].items():
        suite = ET.SubElement(suites, "testsuite", name=name, hostname=name,
                              timestamp=report["meta"]["generated"])
        props = ET.SubElement(suite, "properties")
        for key, value in [("status", h["status"]), *sorted(h["info"].items())]:
            ET.SubElement(props, "property", name=key,
                          value="" if value is None else str(value))
        s = dict(tests=0, failures=0, errors=0, skipped=0)
        if not h["reachable"]:
            case = ET.SubElement(suite, "testcase", classname="%s.facts" % name,
                                 name="flatcar_fips facts were gathered")
            ET.SubElement(case, "error", message=h["errors"]["facts"], type="no_facts")
            s["tests"] += 1
            s["errors"] += 1
        for c in h["checks"]:
            case = ET.SubElement(suite, "testcase", classname="%s.%s" % (name, c["layer"]),
                                 name="%s: %s" % (c["id"], c["title"]))
            s["tests"] += 1
            if c["passed"] is False:
                el = ET.SubElement(case, "failure", message=c["reason"], type="fail")
                el.text = "Remediation: %s" % c["remediation"]
                s["failures"] += 1
            elif c["passed"] is None and report["meta"]["unknown_as"] == "skipped":
                ET.SubElement(case, "skipped", message="unknown: %s" % c["reason"])
                s["skipped"] += 1
            elif c["passed"] is None:
                el = ET.SubElement(case, "failure", message="unknown: %s" % c["reason"],
                                   type="unknown")
                el.text = "Unknown is not a pass. Remediation: %s" % c["remediation"]
                s["failures"] += 1
        if h["errors"]:
            err = ET.SubElement(suite, "system-err")
            err.text = "\n".join("%s: %s" % kv for kv in sorted(h["errors"].items()))
        for key, value in s.items():
            suite.set(key, str(value))
            counts[key] += value
    for key, value in counts.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f24}
h1{margin:0 0 .3rem}p.meta{color:#57606a;margin:.2rem 0 1.2rem}
table{border-collapse:collapse;margin:.6rem 0 1.4rem}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th[scope=row]{white-space:nowrap}
th{background:#f6f8fa}td.pass{background:#dafbe1}td.fail{background:#ffd7d5;font-weight:600}
td.unknown{background:#fff1c2;font-weight:600}td.none{color:#8c959f}
.status-enabled{color:#116329;font-weight:700}.status-partial,.status-unknown{color:#9a6700;
font-weight:700}.status-disabled,.status-pending_reboot{color:#cf222e;font-weight:700}
.summary span{display:inline-block;margin-right:1.2rem}details{margin:.4rem 0 1rem}
summary{cursor:pointer;font-weight:600}code{background:#f6f8fa;padding:0 .25rem}
"""


def render_html(report):
    e = html.escape
    meta, totals = report["meta"], report["totals"]
    rows = []
    for name, h in report["hosts"].items():
        cells = "".join(
            '<td class="%s">%s</td>' % (h["layers"].get(la, "none"), h["layers"].get(la, "-"))
            for la in LAYERS)
        if not h["reachable"]:  # one cell across the layers: why nothing is known
            cells = '<td class="unknown" colspan="%d">no facts: %s</td>' % (
                len(LAYERS), e(h["errors"].get("facts", "")))
        i = h["info"]
        rows.append('<tr><th scope="row"><a href="#host-%s">%s</a></th>'
                    '<td class="status-%s">%s</td>%s<td>%s</td><td>%s</td><td>%s</td>'
                    '<td>%s</td></tr>' % (
                        e(name), e(name), e(h["status"]), e(h["status"]), cells,
                        e(i.get("os") or "-"), e(i.get("kernel") or "-"),
                        e(i.get("openssl") or "-"), e(i.get("fips_provider") or "-")))
    details = []
    for name, h in report["hosts"].items():
        checks = "".join(
            '<tr><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>%s</td></tr>' % (
                e(c["layer"]), e(c["title"]), RESULT_WORD[c["passed"]], RESULT_WORD[c["passed"]],
                e(c["reason"]), "" if c["passed"] else e(c["remediation"]))
            for c in h["checks"])
        errors = "".join("<li><code>%s</code>: %s</li>" % (e(k), e(str(v)))
                         for k, v in sorted(h["errors"].items()))
        details.append(
            '<section id="host-%s"><h3>%s <span class="status-%s">%s</span></h3>%s%s</section>'
            % (e(name), e(name), e(h["status"]), e(h["status"]),
               ('<table><tr><th>layer</th><th>check</th><th>result</th><th>reason</th>'
                '<th>remediation</th></tr>%s</table>' % checks) if checks else "",
               ("<p>Errors (what could not be read):</p><ul>%s</ul>" % errors) if errors else ""))
    statuses = " ".join('<span>%s: <b>%d</b></span>' % (e(k), v)
                        for k, v in sorted(totals["by_status"].items()))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>FIPS mode report</title>
<style>%s</style></head><body>
<h1>FIPS mode report</h1>
<p class="meta">Generated %s by %s from %s. Unknown counts as %s.</p>
<p class="summary"><span>hosts: <b>%d</b></span><span>compliant: <b>%d</b></span>%s
<span>checks passed <b>%d</b>, failed <b>%d</b>, unknown <b>%d</b></span></p>
<h2>Hosts by layer</h2>
<table id="matrix"><tr><th>host</th><th>status</th>%s<th>OS</th><th>kernel</th><th>OpenSSL</th>
<th>fips provider</th></tr>
%s
</table>
<h2>Per host</h2>
%s
</body></html>
""" % (CSS, e(meta["generated"]), e(meta["collection"]), e(meta["source"]),
       "a failure" if meta["unknown_as"] == "failure" else "skipped (opted in)",
       totals["hosts"], totals["compliant"], statuses, totals["passed"], totals["failed"],
       totals["unknown"], "".join("<th>%s</th>" % e(la) for la in LAYERS), "\n".join(rows),
       "\n".join(details))


RENDERERS = {"md": render_markdown, "junit": render_junit, "json": render_json,
             "html": render_html}


def write(report, directory, formats=FORMATS):
    """Write the formats into ``directory`` (created); returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    written = []
    for fmt in formats:
        path = os.path.join(directory, FILE_NAMES[fmt])
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(RENDERERS[fmt](report))
        os.replace(tmp, path)
        written.append(path)
    return written
