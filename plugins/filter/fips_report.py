# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: fips_report
short_description: Assemble the fleet FIPS report from each host's facts and check results
version_added: 0.1.0
description:
  - Builds the data behind the C(flatcar.fips.report) playbook's outputs from the hosts'
    C(ansible_facts.flatcar_fips) and C(fips_report_results) (the output of
    P(flatcar.fips.fips_compliance#filter)).
  - Per host, each layer is V(pass) (all its checks passed), V(fail) (one failed) or V(unknown);
    a host whose facts are missing (unreachable, failed) is reported with status V(unknown).
author:
  - flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description: The host names to report on.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Report data for every host of the play
  ansible.builtin.set_fact:
    report: "{{ ansible_play_hosts_all | sort | flatcar.fips.fips_report(hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: C(hosts) (by name, with C(status), C(layers), C(checks), C(problems)) and C(totals).
  type: dict
"""

LAYERS = ("kernel", "openssl", "sshd", "luks")


def _layer_result(checks, layer):
    results = [c.get("passed") for c in checks if c.get("layer") == layer]
    if any(r is False for r in results):
        return "fail"
    if results and all(r is True for r in results):
        return "pass"
    return "unknown"


def fips_report(hostnames, hostvars):
    hosts = {}
    totals = dict(hosts=0, enabled=0, checks=0, passed=0, failed=0, unknown=0)
    for name in hostnames:
        hv = hostvars[name]
        facts = (hv.get("ansible_facts") or {}).get("flatcar_fips")
        checks = list(hv.get("fips_report_results") or [])
        entry = dict(
            status=facts.get("status") if facts else "unknown",
            layers={layer: _layer_result(checks, layer) for layer in LAYERS},
            checks=checks,
            problems=list(facts.get("problems", [])) if facts else [],
            errors=dict(facts.get("errors", {})) if facts else {"facts": "no flatcar_fips facts"},
        )
        hosts[name] = entry
        totals["hosts"] += 1
        totals["enabled"] += entry["status"] == "enabled"
        for check in checks:
            totals["checks"] += 1
            key = {True: "passed", False: "failed"}.get(check.get("passed"), "unknown")
            totals[key] += 1
    return dict(hosts=hosts, totals=totals, layers=list(LAYERS))


class FilterModule:
    def filters(self):
        return {"fips_report": fips_report}
