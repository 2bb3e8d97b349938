# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: write every task result to the JSON file named by $RECORD_RESULTS.

ansible-core has no JSON callback of its own (it lives in ansible.posix, which this collection
does not depend on), so the integration tests keep the human-readable default output and read
the results from this file: ``{task name: {host: result}}``.
"""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: record_results
type: notification
short_description: Record task results to a JSON file (tests only)
description: Writes each task result to the file named by the RECORD_RESULTS environment variable.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = {}

    def _record(self, result, **status):
        # ansible-core 2.19 callback contract: result.result, result.host, result.task_name
        task = self.results.setdefault(result.task_name, {})
        data = dict(result.result)
        data.update(status)
        task[result.host.get_name()] = data

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("RECORD_RESULTS")
        if path:
            with open(path, "w") as f:
                json.dump(self.results, f, default=str)
