# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: fips_compliance
short_description: Evaluate FIPS compliance checks against flatcar_fips facts
version_added: 0.1.0
description:
  - Evaluates a list of compliance checks, each a JMESPath query over the facts returned by
    M(flatcar.fips.fips_facts), and returns one result per check.
  - The checks are data. The collection ships a default list (C(data/compliance_checks.yml) in
    the collection); O(checks) replaces it, O(extra_checks) adds to it (a check with the id of a
    shipped one replaces that one).
  - A check passes when its query returns exactly its C(expect) value. A query that returns
    C(null) (missing data; the reason names what M(flatcar.fips.fips_facts) could not read), that
    cannot be evaluated on these facts, whose C(unknown_when) query finds something, or that
    belongs to a layer that was not gathered gives C(passed=null) (unknown), never a pass.
  - A malformed check (a missing key, an unknown layer, a query that is not JMESPath) is an error
    naming the check, not an unknown result.
  - The same code gives M(flatcar.fips.fips_facts) its C(status) and C(problems), and the
    C(flatcar.fips.report) playbook its verdicts.
  - Runs on the controller and needs the C(jmespath) Python library there.
author: flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description:
      - C(ansible_facts.flatcar_fips) of one host (or a dict holding it as C(flatcar_fips)).
    type: dict
    required: true
  checks:
    description: The checks, replacing the shipped list. Each is a dict with C(id), C(layer)
      (system, kernel, openssl, sshd or luks), C(title), C(query), C(expect) and C(remediation),
      and optionally C(unknown_when) and C(unknown_reason).
    type: list
    elements: dict
  extra_checks:
    description: Checks added to the list (same C(id) replaces).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Gather the facts
  flatcar.fips.fips_facts:

- name: Evaluate the shipped checks
  ansible.builtin.set_fact:
    fips_results: "{{ ansible_facts.flatcar_fips | flatcar.fips.fips_compliance }}"

- name: Fail with the checks that did not pass (failed, or unknown, which is never a pass)
  ansible.builtin.assert:
    that: fips_results | rejectattr('passed') | list | length == 0
    fail_msg: "{{ fips_results | rejectattr('passed') | map(attribute='title') | list }}"

- name: An extra, site-specific check
  ansible.builtin.set_fact:
    fips_results: >-
      {{ ansible_facts.flatcar_fips | flatcar.fips.fips_compliance(extra_checks=[{
           'id': 'ssh_aes256_only', 'layer': 'sshd', 'title': 'only AES-256 ciphers',
           'query': "sshd.effective.Ciphers", 'expect': ['aes256-gcm@openssh.com'],
           'remediation': 'sshd_crypto policy'}]) }}
"""

RETURN = r"""
_value:
  description: One result per check, in check order.
  type: list
  elements: dict
  contains:
    id:
      description: The check id.
      type: str
    layer:
      description: The layer (system, kernel, openssl, sshd, luks).
      type: str
    title:
      description: What the check verifies.
      type: str
    passed:
      description: V(true), V(false), or C(null) when it cannot be known.
      type: bool
    actual:
      description: What the query returned.
      type: raw
    expect:
      description: What it had to return.
      type: raw
    reason:
      description: Why the result is what it is.
      type: str
    remediation:
      description: What to do when it does not pass.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance


def default_checks():
    return compliance.shipped_checks()


def fips_compliance(facts, checks=None, extra_checks=None):
    try:
        return compliance.compliance(facts, checks, extra_checks)
    except compliance.CheckError as e:
        raise AnsibleFilterError("fips_compliance: %s" % e) from e


class FilterModule:
    def filters(self):
        return {"fips_compliance": fips_compliance}
