# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the collection's actions that run entirely on the controller (ssh_trust,
write_report): they never connect to the host, support check mode, and validate their arguments
against ``ARGS`` before ``decide`` sees them."""

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False
    ARGS = None  # the argument spec: a dict, set by each action

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=self.ARGS)
        return self.decide(args, task_vars or {}, result)

    def decide(self, args, task_vars, result):
        """Fill ``result`` from the validated ``args``; return it."""
        raise NotImplementedError
