# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The python_bootstrap role's interface stays in one place: meta/argument_specs.yml, as for
fips_mode (test_role_fips_mode.py): README table, defaults and the variables its files use."""

import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "python_bootstrap")


def spec():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"]["main"]["options"]


def test_readme_defaults_and_used_variables_agree():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "role_readme.py"), ROLE,
                           "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(ROLE, "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    options = spec()
    assert sorted(defaults) == sorted(options)
    for name, opt in options.items():
        assert defaults[name] == opt["default"], name
    used = set()
    for dirpath, _dirs, names in os.walk(ROLE):
        for name in names:
            if name.endswith((".yml", ".j2")) and "meta" not in dirpath:
                with open(os.path.join(dirpath, name)) as f:
                    used |= set(re.findall(r"\bpython_bootstrap_[a-z0-9][a-z0-9_]*", f.read()))
    assert used - {"python_bootstrap_changed", "python_bootstrap_pending"} == set(options)
