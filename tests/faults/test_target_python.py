# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module files of this tier run under the Python ``make`` chose for the host (the oldest the
collection claims, tests/target_python.py), with ansible's package beside the standard library
and nothing else of the controller's: a module that imported a third-party library would fail
here as it would on a Flatcar host."""

import os
import subprocess

import target_python


def probe(code):
    return subprocess.run([target_python.PYTHON, "-c", code],
                          env=target_python.module_env(dict(os.environ)), capture_output=True,
                          text=True, check=False, timeout=60)


def test_module_files_run_under_the_target_python():
    proc = probe("import platform, ansible.module_utils.basic; print(platform.python_version())")
    assert proc.returncode == 0, proc.stderr
    if os.environ.get("FLATCAR_FIPS_TARGET_PYTHON"):  # make faults
        assert proc.stdout.startswith("3.9."), proc.stdout
        # the controller's libraries are not there (the target Python has pip and setuptools)
        assert probe("import yaml").returncode != 0
        assert probe("import jmespath").returncode != 0
