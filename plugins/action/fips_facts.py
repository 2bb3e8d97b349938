# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the fips_facts module on the host, then judge its facts on the controller.

The module only reports what it found (and why it could not read something). The verdict,
``status``, ``layers``, ``checks`` and ``problems``, is added here from the compliance checks
(data/compliance_checks.yml) by the same code the fips_compliance filter and the report use, so
``ansible all -m flatcar.fips.fips_facts`` shows the same judgement as the role and the report.
With ``earlier_read`` (the role after its changes), the layers not gathered again are taken from
that earlier read of the same run, so the facts stay whole (``compliance.merge_reads``).
"""

import gc

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def _configure_module(self, *args, **kwargs):
        """Build the module's payload (ActionBase's own code) with the cyclic collector paused.

        Ansible's import finder parses the module and each module_util it reaches into syntax
        trees whose nodes point at their parents: for this module some 80 files, over 100,000
        objects in reference cycles. Allocating them sets off full collections in the worker
        forked from the controller, each walking every object the worker inherited. Paused, and
        the worker's objects frozen when the payload is built (``gc.freeze``: no later
        collection walks them), the trees are never traversed: a collection of them alone, the
        first one after the pause, takes 0.03-0.04 s. They are freed when the worker exits,
        which is when its one task for one host ends; its peak memory is the same either way
        (the trees are alive at the peak), 8 MB above a build with the collector on, once per
        ``ansible`` process, as Ansible keeps the built payload for the run's other hosts and
        tasks (docs/benchmarks.md). A collector that was already off stays off, nothing frozen.
        """
        if not gc.isenabled():
            return super()._configure_module(*args, **kwargs)
        gc.disable()
        try:
            return super()._configure_module(*args, **kwargs)
        finally:
            gc.freeze()
            gc.enable()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        earlier = args.pop("earlier_read", None)  # controller only: never sent to the host
        if earlier is not None and not (isinstance(earlier, dict)
                                        and isinstance(earlier.get("gathered"), list)):
            raise AnsibleActionFail("flatcar.fips.fips_facts: earlier_read must be the "
                                    "flatcar_fips facts of an earlier read (a dict with "
                                    "'gathered'), not %s" % type(earlier).__name__)
        result.update(self._execute_module(module_name="flatcar.fips.fips_facts",
                                           module_args=args, task_vars=task_vars))
        facts = (result.get("ansible_facts") or {}).get("flatcar_fips")
        if result.get("failed") or not isinstance(facts, dict):
            return result
        if earlier is not None:
            facts = result["ansible_facts"]["flatcar_fips"] = compliance.merge_reads(earlier,
                                                                                     facts)
        try:
            facts.update(compliance.verdict(facts))
        except compliance.CheckError as e:
            raise AnsibleActionFail("flatcar.fips.fips_facts: %s" % e) from e
        return result
