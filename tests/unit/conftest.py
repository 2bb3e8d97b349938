# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run modules in-process through AnsibleModule, with real files in tmp dirs."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args


class ModuleRunner:
    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, main, args, check_mode=False, diff=False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff,
                    _ansible_remote_tmp="/tmp", _ansible_keep_remote_files=False)
        self.capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
            main()
        out = self.capsys.readouterr().out
        result = json.loads(out)
        result["_rc"] = exit_info.value.code
        return result


@pytest.fixture
def run_module(capsys):
    return ModuleRunner(capsys)
