# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the fips_facts module on the host, then judge its facts on the controller.

The module only reports what it found (and why it could not read something). The verdict,
``status``, ``layers``, ``checks`` and ``problems``, is added here from the compliance checks
(data/compliance_checks.yml) by the same code the fips_compliance filter and the report use, so
``ansible all -m flatcar.fips.fips_facts`` shows the same judgement as the role and the report.
"""

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name="flatcar.fips.fips_facts",
                                           module_args=self._task.args, task_vars=task_vars))
        facts = (result.get("ansible_facts") or {}).get("flatcar_fips")
        if result.get("failed") or not isinstance(facts, dict):
            return result
        try:
            facts.update(compliance.verdict(facts))
        except compliance.CheckError as e:
            raise AnsibleActionFail("flatcar.fips.fips_facts: %s" % e) from e
        return result
