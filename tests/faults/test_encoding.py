# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault class: bytes that are not UTF-8.

A Latin-1 comment in grub.cfg, openssl.cnf or sshd_config, or a 0xff on /proc/cmdline, crashed
modules (UnicodeEncodeError) or made ansible-core 2.19 refuse the result ("Refusing to
deserialize an invalid UTF8 string value"), losing the module's own message. The bytes must
survive byte for byte, and results show them escaped (``\\xe9``). Every result here passes the
controller's UTF-8 check (conftest.Result); two cases go through the real ``ansible`` command.
"""

import json
import os
import shutil
import subprocess
import sys

import target_python
from conftest import (
    assert_unchanged,
    effective_sshd,
    grub_args,
    grub_reads,
    openssl_args,
    snapshot,
    sshd_args,
)

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms

LATIN1 = "# R\xe9glages de l'h\xf4te\n".encode("latin-1")


def prepend_latin1(path):
    """Put a Latin-1 comment line first in ``path``; returns the new bytes."""
    with open(path, "rb") as f:
        data = LATIN1 + f.read()
    with open(path, "wb") as f:
        f.write(data)
    return data


def test_kernel_args_latin1_comment_survives(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    prepend_latin1(path)
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r["changed"] and not r.failed
    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(LATIN1), data
    assert "\\xe9" in r["diff"]["before"] and "\\xe9" in r["diff"]["after"]
    assert "fips=1" in grub_reads(path)
    again = run("kernel_args", grub_args(oem_dir, cmdline))
    assert not again["changed"]


def test_kernel_args_non_utf8_argument_is_reported_escaped(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    with open(path, "wb") as f:
        f.write(b'set linux_append="flatcar.autologin label=caf\xe9"\n')
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r["changed"]
    assert "label=caf\\xe9" in r["args_configured"] and "fips=1" in r["args_configured"]
    with open(path, "rb") as f:
        assert b"label=caf\xe9 fips=1" in f.read()


def test_proc_cmdline_with_0xff(run, oem, tmp_path):
    oem_dir, _cmdline = oem
    cmdline = tmp_path / "cmdline-ff"
    cmdline.write_bytes(b"root=LABEL=ROOT console=\xff fips=1\n")
    r = run("kernel_args", grub_args(oem_dir, str(cmdline)), check=True)
    assert r["changed"] and "fips=1" in r["args_running"]
    facts = run("fips_facts", dict(gather=["kernel"], grub_cfg=str(oem_dir / "grub.cfg"),
                                   proc_cmdline=str(cmdline)))
    assert "fips=1" in facts["ansible_facts"]["flatcar_fips"]["kernel"]["cmdline_args"]


def test_grub_refusal_with_latin1_keeps_its_message(run, oem):
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    with open(path, "wb") as f:
        f.write(b'set linux_append="caf\xe9 $(evil)"\n')
    before = snapshot(str(oem_dir))
    r = run("kernel_args", grub_args(oem_dir, cmdline))
    assert r.failed and "grub.cfg line 1" in r.msg and "\\xe9" in r.msg, r.msg
    assert_unchanged(before, str(oem_dir))


def test_openssl_cnf_latin1_survives_enable_and_disable(run, stable):
    original = prepend_latin1(stable.openssl_cnf)
    r = run("openssl_fips", openssl_args(stable), env=stable.env)
    assert r["changed"] and not r.failed, r.msg
    with open(stable.openssl_cnf, "rb") as f:
        assert f.read().startswith(LATIN1)
    with open(stable.openssl_cnf + ".pre-fips", "rb") as f:
        assert f.read() == original
    stable.assert_fips_active()
    assert any("\\xe9" in d["before"] for d in r["diff"])
    off = run("openssl_fips", openssl_args(stable, state="disabled"), env=stable.env)
    assert off["changed"]
    with open(stable.openssl_cnf, "rb") as f:
        assert f.read() == original


def test_sshd_latin1_in_main_and_drop_in(run, sshd_tree):
    layout = sshd_tree("before_include")  # the main file needs rewriting too
    for path in (layout.main, layout.flatcar_drop_in):
        prepend_latin1(path)
    r = run("sshd_crypto", sshd_args(layout))
    assert r["changed"] and not r.failed, r.msg
    for path in (layout.main, layout.flatcar_drop_in, layout.main + ".pre-fips"):
        with open(path, "rb") as f:
            assert f.read().startswith(LATIN1), path
    eff = effective_sshd(layout.main)
    for keyword in algorithms.KEYWORDS:
        assert not algorithms.unapproved(keyword, eff[keyword.lower()].split(",")), keyword
    facts = run("fips_facts", dict(gather=["sshd"], sshd_config=layout.main,
                                   passwd_file=layout.passwd))
    assert facts["ansible_facts"]["flatcar_fips"]["sshd"]["non_approved"] == {}


def _ansible(module, args, tmp_path, *extra):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=target_python.PYTHON, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               ANSIBLE_REMOTE_TMP=str(tmp_path / "ansible-remote"))
    tool = os.path.join(os.path.dirname(sys.executable), "ansible")
    cmd = [tool if os.path.exists(tool) else shutil.which("ansible"), "localhost", "-c",
           "local", "-i", "localhost,", "-m", module, "-a", json.dumps(args), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                          timeout=300)


def test_real_controller_accepts_the_results(oem, tmp_path):
    """Through the real ansible command: a change with a Latin-1 diff, then a refusal whose
    message carries a Latin-1 byte, shown as the module's own message."""
    oem_dir, cmdline = oem
    path = str(oem_dir / "grub.cfg")
    prepend_latin1(path)
    ok = _ansible("flatcar.fips.kernel_args", grub_args(oem_dir, cmdline), tmp_path, "--diff")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "CHANGED" in ok.stdout and "\\xe9" in ok.stdout, ok.stdout
    assert "deserialize" not in ok.stdout + ok.stderr
    with open(path, "wb") as f:
        f.write(b'set linux_append="caf\xe9 $(evil)"\n')
    bad = _ansible("flatcar.fips.kernel_args", grub_args(oem_dir, cmdline), tmp_path)
    assert bad.returncode != 0
    assert "Cannot safely rewrite" in bad.stdout and "\\xe9" in bad.stdout, bad.stdout
    assert "deserialize" not in bad.stdout + bad.stderr
