# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test and benchmark callback: count the module round trips each host cost.

A round trip is a task (or a loop item) that ran a module on the host: every task that was not
skipped, except those whose action runs on the controller only (set_fact, debug, assert, ...,
and flatcar.fips.ssh_trust, which reads the controller's known-hosts files). Tasks delegated to
another host are counted for that host. Written as JSON to $ROUND_TRIPS at the end of the
playbook: ``{host: {"round_trips": N, "tasks": [names in order]}}``.
"""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: round_trips
type: notification
short_description: Count module round trips per host (tests and bench only)
description: Writes the module round trips of each host to the file named by ROUND_TRIPS.
"""

# Actions that never run anything on the managed host.
CONTROLLER_ONLY = {
    "ansible.builtin." + name for name in (
        "set_fact", "debug", "assert", "fail", "set_stats", "group_by", "add_host",
        "include_tasks", "import_tasks", "include_role", "import_role", "include_vars", "meta",
        "pause", "validate_argument_spec", "include", "end_play", "end_host")
} | {"flatcar.fips.ssh_trust"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "round_trips"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hosts = {}

    def _count(self, result, items=None):
        task = result.task
        action = getattr(task, "resolved_action", None) or task.action
        if action in CONTROLLER_ONLY or "ansible.builtin." + action in CONTROLLER_ONLY:
            return
        data = result.result
        delegated = data.get("_ansible_delegated_vars") or {}
        host = delegated.get("ansible_delegated_host") or result.host.get_name()
        if items is None:
            items = ([r for r in data["results"] if not r.get("skipped")]
                     if "results" in data else [data])
        entry = self.hosts.setdefault(host, dict(round_trips=0, tasks=[]))
        entry["round_trips"] += len(items)
        entry["tasks"].extend([result.task_name] * len(items))

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_runner_on_unreachable(self, result):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("ROUND_TRIPS")
        if path:
            with open(path, "w") as f:
                json.dump(self.hosts, f, indent=1, sort_keys=True)
