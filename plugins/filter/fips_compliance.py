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
    C(null) (missing data), fails to evaluate, or belongs to a layer that was not gathered gives
    C(passed=null) (unknown), never a pass.
  - Runs on the controller and needs the C(jmespath) Python library there.
author:
  - flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description:
      - C(ansible_facts.flatcar_fips) of one host (or a dict holding it as C(flatcar_fips)).
    type: dict
    required: true
  checks:
    description: The checks, replacing the shipped list. Each is a dict with C(id), C(layer),
      C(title), C(query), C(expect) and C(remediation).
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

- name: Fail with the checks that did not pass
  ansible.builtin.assert:
    that: fips_results | selectattr('passed', 'false') | list | length == 0
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
      description: The layer (kernel, openssl, sshd, luks).
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

import os

from ansible.errors import AnsibleFilterError

try:
    import jmespath
except ImportError:  # reported when the filter is used
    jmespath = None

import yaml

REQUIRED = ("id", "layer", "title", "query", "expect", "remediation")
DEFAULT_CHECKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                              "compliance_checks.yml")


def default_checks():
    with open(DEFAULT_CHECKS) as f:
        return yaml.safe_load(f)


def _validate(check):
    if not isinstance(check, dict):
        raise AnsibleFilterError("fips_compliance: a check must be a dict, got %r" % (check,))
    missing = [k for k in REQUIRED if k not in check]
    if missing:
        raise AnsibleFilterError("fips_compliance: check %s lacks %s"
                                 % (check.get("id", "?"), ", ".join(missing)))


def merge(checks, extra):
    by_id = {}
    order = []
    for check in list(checks) + list(extra or []):
        _validate(check)
        if check["id"] not in by_id:
            order.append(check["id"])
        by_id[check["id"]] = check
    return [by_id[i] for i in order]


def evaluate(facts, check):
    gathered = facts.get("gathered")
    result = dict(id=check["id"], layer=check["layer"], title=check["title"],
                  expect=check["expect"], remediation=check["remediation"], actual=None)
    if gathered is not None and check["layer"] in ("kernel", "openssl", "sshd", "luks") \
            and check["layer"] not in gathered:
        result.update(passed=None, reason="the %s layer was not gathered" % check["layer"])
        return result
    try:
        actual = jmespath.search(check["query"], facts)
    except jmespath.exceptions.JMESPathError as e:
        result.update(passed=None, reason="the query cannot be evaluated: %s" % e)
        return result
    result["actual"] = actual
    if actual is None:
        result.update(passed=None, reason="no data (%s is null)" % check["query"])
    elif same(actual, plain(check["expect"])):
        result.update(passed=True, reason="as expected")
    else:
        result.update(passed=False, reason="expected %r, found %r" % (check["expect"], actual))
    return result


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
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def fips_compliance(facts, checks=None, extra_checks=None):
    if jmespath is None:
        raise AnsibleFilterError("fips_compliance needs the jmespath Python library on the "
                                 "controller (pip install jmespath)")
    if not isinstance(facts, dict):
        raise AnsibleFilterError("fips_compliance expects ansible_facts.flatcar_fips (a dict), "
                                 "got %s" % type(facts).__name__)
    if "flatcar_fips" in facts and isinstance(facts["flatcar_fips"], dict):
        facts = facts["flatcar_fips"]
    facts = plain(facts)
    checks = merge(default_checks() if checks is None else checks, extra_checks)
    return [evaluate(facts, check) for check in checks]


class FilterModule:
    def filters(self):
        return {"fips_compliance": fips_compliance}
