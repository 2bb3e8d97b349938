# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the fleet FIPS report on the controller (see plugins/modules/write_report.py)."""

import os

from ansible.errors import AnsibleActionFail

from ansible_collections.flatcar.fips.plugins.filter.fips_report import facts_and_error
from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance, report
from ansible_collections.flatcar.fips.plugins.plugin_utils.controller_action import ControllerAction

ARGS = dict(
    dir=dict(type="str", default="fips-report"),
    hosts=dict(type="list", elements="str", required=True),
    formats=dict(type="list", elements="str", default=list(report.FORMATS),
                 choices=list(report.FORMATS)),
    checks=dict(type="list", elements="dict"),
    extra_checks=dict(type="list", elements="dict", default=[]),
    unknown_as=dict(type="str", default="failure", choices=list(report.UNKNOWN_AS)),
    fail_on_noncompliant=dict(type="bool", default=False),
    source=dict(type="str"),
)


class ActionModule(ControllerAction):
    """Runs entirely on the controller: no connection, no become, the controller user's files,
    paths relative to the directory ansible-playbook was started in."""

    ARGS = ARGS

    def decide(self, args, task_vars, result):
        hostvars = task_vars["hostvars"]
        try:
            hosts = {name: facts_and_error(hostvars, name) for name in args["hosts"]}
            data = report.build(hosts, args["checks"], args["extra_checks"], args["unknown_as"],
                                source=args["source"])
        except compliance.CheckError as e:
            raise AnsibleActionFail("write_report: %s" % e) from e
        directory = os.path.abspath(os.path.expanduser(args["dir"]))
        files = [os.path.join(directory, report.FILE_NAMES[f]) for f in args["formats"]]
        if not self._task.check_mode:
            try:
                files = report.write(data, directory, args["formats"])
            except OSError as e:
                raise AnsibleActionFail("write_report: cannot write the report into %s: %s"
                                        % (directory, e.strerror or e)) from e
        totals = data["totals"]
        result.update(
            changed=not self._task.check_mode, dir=directory, files=files, totals=totals,
            noncompliant=data["noncompliant"],
            msg="%d hosts, %d compliant; checks %d passed, %d failed, %d unknown. Report in %s."
                % (totals["hosts"], totals["compliant"], totals["passed"], totals["failed"],
                   totals["unknown"], directory))
        if args["fail_on_noncompliant"] and data["noncompliant"]:
            result["failed"] = True
            result["msg"] = "Not compliant: %s. %s" % (
                "; ".join("%s (%s)" % (n, data["hosts"][n]["status"])
                          for n in data["noncompliant"]), result["msg"])
        return result
