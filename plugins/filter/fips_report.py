# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: fips_report
short_description: Build the fleet FIPS report data from the hosts' facts
version_added: 0.1.0
description:
  - Builds the data behind the C(flatcar.fips.report) playbook's outputs from each host's
    C(ansible_facts.flatcar_fips) (gathered in this run, or from Ansible's fact cache), judged
    by the same compliance checks as M(flatcar.fips.fips_facts) and the
    P(flatcar.fips.fips_compliance#filter) filter.
  - Per host, each layer is V(pass) (all its checks passed), V(fail) (one failed) or V(unknown);
    a host without facts (unreachable, failed, nothing cached) has status V(unknown), never
    V(enabled).
  - M(flatcar.fips.write_report) writes the same data as files; use this filter to work with the
    data in a play.
author: flatcar.fips contributors (!UNKNOWN)
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
  checks:
    description: Checks replacing the shipped list (see P(flatcar.fips.fips_compliance#filter)).
    type: list
    elements: dict
  extra_checks:
    description: Checks added to the list.
    type: list
    elements: dict
    default: []
  unknown_as:
    description: How the JUnit rendering counts an unknown check.
    type: str
    choices: [failure, skipped]
    default: failure
"""

EXAMPLES = r"""
- name: Report data for every host of the play
  ansible.builtin.set_fact:
    report: "{{ ansible_play_hosts_all | sort | flatcar.fips.fips_report(hostvars) }}"
  run_once: true

- name: Hosts that are not in FIPS mode
  ansible.builtin.debug:
    var: report.noncompliant
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - C(meta) (generation time, collection version, source of the facts), C(totals) (hosts,
      compliant, checks passed, failed, unknown, hosts by status), C(hosts) (by name, with
      C(status), C(info) (OS, kernel, OpenSSL and fips provider versions), C(layers), C(checks),
      C(problems), C(errors)) and C(noncompliant) (the hosts whose status is not V(enabled)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance, report


def facts_and_error(hostvars, name):
    """``(flatcar_fips facts or None, why not)`` for one host from hostvars."""
    hv = hostvars[name]
    facts = (hv.get("ansible_facts") or {}).get("flatcar_fips")
    if facts is None:
        facts = hv.get("ansible_flatcar_fips")  # injected form
    gathered = hv.get("fips_report__gathered") or {}
    error = None
    if isinstance(gathered, dict) and (gathered.get("unreachable") or gathered.get("failed")):
        error = "%s: %s" % ("unreachable" if gathered.get("unreachable") else "failed",
                            gathered.get("msg") or "(no message)")
        facts = None  # whatever hostvars still hold is from an earlier gathering: stale
    elif (hv.get("python_bootstrap_pending") and isinstance(gathered, dict)
          and gathered.get("skipped")):
        # check mode on a host without Python (flatcar.fips.python_bootstrap): nothing was read
        error = ("no Python on the host yet: check mode predicted its installation "
                 "(flatcar.fips.python_bootstrap) and installed nothing, so no layer could be read")
        facts = None
    return (facts if isinstance(facts, dict) else None), error  # the judge makes it plain


def fips_report(hostnames, hostvars, checks=None, extra_checks=None, unknown_as="failure"):
    try:
        hosts = {name: facts_and_error(hostvars, name) for name in hostnames}
        return report.build(hosts, checks, extra_checks, unknown_as)
    except compliance.CheckError as e:
        raise AnsibleFilterError("fips_report: %s" % e) from e


class FilterModule:
    def filters(self):
        return {"fips_report": fips_report}
