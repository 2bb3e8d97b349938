# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.python_bootstrap and flatcar.fips.raw_copy through a real ansible-playbook on
this machine. Installing an interpreter needs a host without one (systemd-sysext, /opt): that
happens on the VM testbed, whose hosts start Python-less (extensions/molecule/shared/bootstrap.yml);
here, the probe, idempotence and check mode, and raw_copy's transfer."""

import hashlib
import os

PROBE = "Look for a Python 3.9+ interpreter (one raw call, changes nothing)"
COPY = "Copy a file without Python on the other side"


def test_an_interpreter_that_is_there_is_used_with_one_raw_call(playbook):
    run = playbook("python_bootstrap.yml", {})
    assert run.rc == 0, run.stdout
    assert "PYTHON_BOOTSTRAP_FOUND /usr/bin/python3" in run.task(PROBE)["stdout"]
    assert run.task(PROBE)["changed"] is False
    assert run.task("Report the interpreter chosen")["msg"] == "/usr/bin/python3 False"
    # nothing else talked to the host: the probe was the only command that ran there
    ran = [name for name, hosts in run.output.items()
           if hosts["localhost"].get("rc") is not None and not hosts["localhost"].get("skipped")]
    assert ran == [PROBE]
    check = playbook("python_bootstrap.yml", {}, check=True)
    assert check.rc == 0 and check.task(PROBE)["changed"] is False


def test_the_given_interpreter_is_tried_first(playbook, tmp_path):
    wrapper = tmp_path / "py"
    wrapper.write_text("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n")
    wrapper.chmod(0o755)
    run = playbook("python_bootstrap.yml", {"interpreter": str(wrapper)})
    assert run.rc == 0, run.stdout
    assert run.task(PROBE)["stdout"].strip() == "PYTHON_BOOTSTRAP_FOUND %s" % wrapper, run.stdout
    assert run.task("Report the interpreter chosen")["msg"] == "%s False" % wrapper
    old = tmp_path / "py2"
    old.write_text("#!/bin/sh\nexit 1\n")  # does not run Python 3.9+: skipped
    old.chmod(0o755)
    run = playbook("python_bootstrap.yml", {"interpreter": str(old)})
    assert run.task("Report the interpreter chosen")["msg"] == "/usr/bin/python3 False"


def test_raw_copy(playbook, tmp_path):
    src = tmp_path / "image.raw"
    src.write_bytes(os.urandom(300000))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "opt" / "extensions" / "python" / "image.raw"
    args = {"copy_src": str(src), "copy_dest": str(dest), "copy_sha256": digest}
    check = playbook("python_bootstrap.yml", args, check=True)
    assert check.task(COPY)["changed"] is True and not dest.exists()
    run = playbook("python_bootstrap.yml", args)
    assert run.rc == 0, run.stdout
    assert run.task(COPY)["changed"] is True and run.task(COPY)["sha256"] == digest
    assert dest.read_bytes() == src.read_bytes()
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(dest.parent)) == ["image.raw"], "no temporary file left"
    assert playbook("python_bootstrap.yml", args).task(COPY)["changed"] is False
    wrong = playbook("python_bootstrap.yml", dict(args, copy_sha256="0" * 64))
    assert wrong.rc != 0
    assert "not the expected" in wrong.task(COPY)["msg"]
