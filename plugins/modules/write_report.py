# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: write_report
short_description: Write the fleet FIPS report (Markdown, JUnit, JSON, HTML) on the controller
version_added: 0.1.0
description:
  - Judges each host's C(ansible_facts.flatcar_fips) (gathered by M(flatcar.fips.fips_facts) in
    this run, or from Ansible's fact cache) with the compliance checks and writes the report
    files on the controller. The C(flatcar.fips.report) playbook runs it once per play.
  - Runs entirely on the controller (an action plugin) as the user who runs Ansible; C(become)
    is never used for these files, whatever the play says. A relative O(dir) is relative to the
    directory C(ansible-playbook) was started in.
  - "The report carries when it was made, the collection version, where the facts came from,
    and per host the OS release, kernel, OpenSSL and fips provider versions, every check with
    its layer, result, reason and remediation, and what could not be read (C(errors))."
  - Three-valued. A check whose data is missing is unknown, and unknown is never a pass; in the
    JUnit file it is a failure unless O(unknown_as=skipped). A host without facts is an error
    there, and its status is V(unknown).
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment: [ansible.builtin.action_common_attributes,
  ansible.builtin.action_common_attributes.flow, flatcar.fips.attributes.action]
attributes:
  check_mode:
    details: Builds the report and returns the file names without writing them.
  diff_mode:
    support: none
  action:
    details: Runs entirely on the controller.
  bypass_host_loop:
    details: Use C(run_once), as the C(flatcar.fips.report) playbook does.
options:
  dir:
    description: Where to write the files; created when missing.
    type: str
    default: fips-report
  hosts:
    description: The hosts to report on (C(ansible_play_hosts_all), usually).
    type: list
    elements: str
    required: true
  formats:
    description:
      - Which files. V(md) C(report.md), V(junit) C(report.junit.xml) (one test suite per host,
        one test case per check), V(json) C(report.json), V(html) C(report.html) (one
        self-contained page with a host-by-layer matrix).
    type: list
    elements: str
    choices: [md, junit, json, html]
    default: [md, junit, json, html]
  checks:
    description: Checks replacing the shipped list (see P(flatcar.fips.fips_compliance#filter)).
    type: list
    elements: dict
  extra_checks:
    description: Checks added to the list. A malformed check fails the task, naming the check.
    type: list
    elements: dict
    default: []
  unknown_as:
    description: V(failure) (the default) or V(skipped), for unknown checks in the JUnit file.
    type: str
    choices: [failure, skipped]
    default: failure
  fail_on_noncompliant:
    description: Fail (after writing the report) when any host's status is not V(enabled).
    type: bool
    default: false
  source:
    description: Where the facts came from, as said in the report.
    type: str
seealso:
  - module: flatcar.fips.fips_facts
  - plugin: flatcar.fips.fips_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write the report into ./fips-report
  flatcar.fips.write_report:
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  delegate_to: localhost

- name: For CI, fail when any host is not in FIPS mode
  flatcar.fips.write_report:
    hosts: "{{ ansible_play_hosts_all }}"
    dir: /srv/reports/fips
    formats: [junit, html]
    fail_on_noncompliant: true
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
dir:
  description: The absolute directory the files are in.
  returned: always
  type: str
files:
  description: The files written (in check mode, that would be written).
  returned: always
  type: list
  elements: str
totals:
  description: Hosts, compliant hosts, checks passed, failed, unknown, hosts by status.
  returned: always
  type: dict
noncompliant:
  description: The hosts whose status is not V(enabled).
  returned: always
  type: list
  elements: str
"""
