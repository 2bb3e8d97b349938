# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run real ansible-playbook / ansible / ansible-doc processes against this machine."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import target_python

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, "playbooks")
BIN = os.path.dirname(sys.executable)


def _tool(name):
    path = os.path.join(BIN, name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    if not found:
        pytest.fail("%s is not installed: run the tests through 'make test'" % name)
    return found


class Run:
    def __init__(self, proc, output=None):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.output = output

    def task(self, name, host="localhost"):
        """The result of the task called ``name`` (recorded by callback_plugins/record_results)."""
        return self.output[name][host]


def _env(tmp_path, **extra):
    env = dict(os.environ)
    env.update(
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_REMOTE_TMP=str(tmp_path / "ansible-remote"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_PYTHON_INTERPRETER=target_python.PYTHON,
    )
    env.update(extra)
    return env


@pytest.fixture
def ansible_env(tmp_path):
    """The environment the Ansible commands of these tests run with (plus ``extra``)."""

    def env(**extra):
        return _env(tmp_path, **extra)

    return env


@pytest.fixture
def playbook(tmp_path):
    """Run tests/integration/playbooks/NAME with extra vars; JSON callback unless told."""

    def run(name, extra_vars, check=False, diff=False, env=None):
        cmd = [_tool("ansible-playbook"), "-i", "localhost,", "-c", "local",
               os.path.join(PLAYBOOKS, name), "-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        results = tmp_path / "results.json"
        if results.exists():
            results.unlink()
        env = _env(tmp_path, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="record_results", RECORD_RESULTS=str(results),
                   **(env or {}))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                              timeout=300)
        if not results.exists():
            pytest.fail("ansible-playbook recorded no results (rc=%d):\n%s\n%s"
                        % (proc.returncode, proc.stdout, proc.stderr))
        return Run(proc, json.loads(results.read_text()))

    return run


@pytest.fixture
def ansible(tmp_path):
    """Run an ad hoc ``ansible localhost -m MODULE -a ARGS``."""

    def run(module, args, *extra):
        cmd = [_tool("ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m", module,
               "-a", json.dumps(args), *extra]
        proc = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True,
                              check=False, timeout=300)
        return Run(proc)

    return run


@pytest.fixture
def ansible_doc(tmp_path):
    def run(*args):
        proc = subprocess.run([_tool("ansible-doc"), *args], env=_env(tmp_path),
                              capture_output=True, text=True, check=False, timeout=300)
        return Run(proc)

    return run
