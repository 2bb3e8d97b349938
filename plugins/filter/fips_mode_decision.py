# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: fips_mode_decision
short_description: The decisions of the fips_mode role and of the rollout playbooks
version_added: 0.1.0
description:
  - "What the P(flatcar.fips.fips_mode#role) role decides between the modules it runs, in Python
    (C(plugins/plugin_utils/role_decisions.py)) where unit tests reach it:"
  - "V(refusals): what the preflight refuses before anything changes, a list of messages that
    each say what to do (empty: go ahead)."
  - "V(tolerated_checks): the compliance check ids that may fail without failing the role (the
    running kernel's while a declined reboot is pending; the LUKS one when every argon2 device
    was accepted)."
  - "V(failed_checks): one line per check that fails the role; a tolerated check is excused only
    when it failed, never when it is unknown."
  - "V(outcome): the line that says where the host stands after the role."
  - "V(reread_layers): the layers the role reads again after its changes (every one after a
    reboot, else those it changed and those whose facts follow them: cryptsetup's FIPS mode,
    read with C(luks), follows C(openssl))."
  - "V(rollout_stopped): the lines with which C(flatcar.fips.switch) (C(enable), C(disable)) stops
    the rollout at a failed host: the task, why, and the hosts never reached."
  - Meant for the role and the collection's playbooks; the options each decision reads are
    listed with them.
author: flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description: The decision.
    type: str
    choices: [refusals, tolerated_checks, failed_checks, outcome, reread_layers,
              rollout_stopped]
    required: true
  settings:
    description:
      - The role's variables without their C(fips_mode_) prefix (C(state), C(reboot_method),
        C(luks_keys), ...), plus C(ssh_users_checked) and C(connection_user); the role passes
        C(fips_mode__settings). Read by every decision but V(rollout_stopped).
    type: dict
    default: {}
  facts:
    description: The C(flatcar_fips) facts (V(refusals), the preflight's; V(tolerated_checks),
      the final ones).
    type: dict
    default: {}
  trust:
    description: What M(flatcar.fips.ssh_trust) predicted in the preflight (V(refusals)).
    type: raw
  host:
    description: The host's inventory name (V(refusals), V(rollout_stopped)).
    type: str
    default: localhost
  compliance:
    description: The compliance check results (V(failed_checks)).
    type: list
    elements: dict
    default: []
  tolerated:
    description: Tolerated check ids (V(failed_checks)).
    type: list
    elements: str
    default: []
  changed_layers:
    description: The layers this run changed (V(outcome), V(reread_layers)).
    type: list
    elements: str
    default: []
  reboot_required:
    description: A reboot is still needed (V(outcome), V(tolerated_checks)).
    type: bool
    default: false
  rebooted:
    description: The role rebooted the host, or would in check mode (V(outcome),
      V(reread_layers)).
    type: bool
    default: false
  check_mode:
    description: The run is in check mode (V(outcome)).
    type: bool
    default: false
  signal_removed:
    description: The role withdrew its reboot sentinel (V(outcome)).
    type: bool
    default: false
  failed_task:
    description: The name of the task that failed (V(rollout_stopped)).
    type: str
  failed_msg:
    description: Its message, a string or a list of lines (V(rollout_stopped)).
    type: raw
  batch:
    description: The hosts of the current batch (V(rollout_stopped)).
    type: list
    elements: str
    default: []
  reached:
    description: The hosts the role reached in earlier batches (V(rollout_stopped)).
    type: list
    elements: str
    default: []
  all_hosts:
    description: Every host of the play (V(rollout_stopped)).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Decide what the preflight refuses
  ansible.builtin.set_fact:
    refusals: >-
      {{ 'refusals' | flatcar.fips.fips_mode_decision(settings=fips_mode__settings,
           facts=preflight.ansible_facts.flatcar_fips, trust=trust, host=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: A list of messages (V(refusals), V(failed_checks), V(rollout_stopped)), a list of
    check ids (V(tolerated_checks)), or one line (V(outcome)).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.plugin_utils import role_decisions as decide


def fips_mode_decision(decision, settings=None, facts=None, trust=None, host="localhost",
                       compliance=None, tolerated=None, changed_layers=None,
                       reboot_required=False, rebooted=False, check_mode=False,
                       signal_removed=False, failed_task=None, failed_msg=None, batch=None,
                       reached=None, all_hosts=None):
    settings = dict(settings or {})
    if decision == "refusals":
        return decide.refusals(facts or {}, settings, trust=trust, host=host)
    if decision == "tolerated_checks":
        return decide.tolerated_checks(facts or {}, settings, bool(reboot_required))
    if decision == "failed_checks":
        return decide.failed_checks(compliance or [], tolerated or [])
    if decision == "outcome":
        return decide.outcome(settings, list(changed_layers or []), bool(reboot_required),
                              bool(rebooted), check_mode=bool(check_mode),
                              signal_removed=bool(signal_removed))
    if decision == "reread_layers":
        return decide.reread_layers(list(changed_layers or []), bool(rebooted))
    if decision == "rollout_stopped":
        return decide.rollout_stopped(host, failed_task, failed_msg, list(batch or []),
                                      list(reached or []), list(all_hosts or []))
    raise AnsibleFilterError("fips_mode_decision: unknown decision %r (one of refusals, "
                             "tolerated_checks, failed_checks, outcome, reread_layers, "
                             "rollout_stopped)"
                             % (decision,))


class FilterModule:
    def filters(self):
        return {"fips_mode_decision": fips_mode_decision}
