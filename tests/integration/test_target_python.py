# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules of this tier run under the Python ``make`` chose for the host (the oldest the
collection claims, tests/target_python.py), not under the controller's."""

import os
import subprocess
import sys

import target_python

HERE = os.path.dirname(os.path.abspath(__file__))


def test_modules_run_under_the_target_python(ansible_env):
    version = subprocess.run([target_python.PYTHON, "-c", "import platform; "
                              "print(platform.python_version())"], capture_output=True,
                             text=True, check=True).stdout.strip()
    if os.environ.get("FLATCAR_FIPS_TARGET_PYTHON"):  # make integration
        assert version.startswith("3.9."), version
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost",
                           "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.setup", "-a",
                           "filter=ansible_python_version"], env=ansible_env(),
                          capture_output=True, text=True, check=False, timeout=120, cwd=HERE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"ansible_python_version": "%s"' % version in proc.stdout, proc.stdout
