# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault classes: concurrent runs, and kill -9 of the module in the middle of its writes.

Two operators (or a retry and a slow first attempt) running the same task on one host must end
in the converged state with no file torn; a module killed at any instant leaves every file
either as it was or as it would have been written, never half written, and the next run
converges. Judged by the real consumers: openssl, sshd -T, grub-script-check + GRUB's reading.
"""

import os
import subprocess

import pytest
import target_python
from conftest import (
    Result,
    effective_sshd,
    grub_args,
    grub_reads,
    kill_after,
    module_command,
    openssl_args,
    sshd_args,
)
from openssl_tree import make_lts

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms

PARALLEL = 6


def in_parallel(name, args, tmp_path, env=None):
    procs = [subprocess.Popen(module_command(name, args, tmpdir=str(tmp_path)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=target_python.module_env(dict(os.environ, **(env or {}))))
             for _run in range(PARALLEL)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
                              0))
    return results


def leftovers(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


@pytest.mark.parametrize("round_", range(6))
def test_concurrent_openssl_fips(run, tmp_path, round_):
    """Several rounds on fresh LTS trees (the most writes: fipsmodule.cnf, the symlink, the
    guard): without the host-wide lock, a run that failed rolled back a fipsmodule.cnf another
    run had just written and depended on (seen once in a clean-clone run)."""
    lts = make_lts(str(tmp_path / ("root-%d" % round_)))
    results = in_parallel("openssl_fips", openssl_args(lts), tmp_path, lts.env)
    for r in results:  # each one converged, or refused cleanly (no traceback: conftest)
        assert not r.failed or r.msg, r.result
    assert any(not r.failed for r in results)
    lts.assert_fips_active()
    assert os.path.islink(lts.openssl_cnf + ".pre-fips")  # the original symlink, saved once
    assert leftovers(lts.ssl) == []
    assert not run("openssl_fips", openssl_args(lts), env=lts.env)["changed"]


def test_concurrent_kernel_args(run, oem, tmp_path):
    oem_dir, cmdline = oem
    results = in_parallel("kernel_args", grub_args(oem_dir, cmdline), tmp_path)
    assert all(not r.failed for r in results), [r.msg for r in results]
    assert grub_reads(str(oem_dir / "grub.cfg")) == ["flatcar.autologin", "fips=1"]
    assert leftovers(str(oem_dir)) == []


def test_concurrent_sshd_crypto(run, sshd_tree, tmp_path):
    layout = sshd_tree("lts")
    results = in_parallel("sshd_crypto", sshd_args(layout), tmp_path)
    assert any(not r.failed for r in results)
    eff = effective_sshd(layout.main)
    for keyword in algorithms.KEYWORDS:
        assert not algorithms.unapproved(keyword, eff[keyword.lower()].split(",")), keyword
    assert leftovers(layout.dropin_dir) == [] and leftovers(layout.ssh) == []
    assert not run("sshd_crypto", sshd_args(layout))["changed"]


def read(path):
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return ("file", f.read())


@pytest.mark.parametrize("target", ["openssl_fips", "kernel_args"])
def test_kill_9_leaves_old_or_new_never_torn(run, stable, oem, tmp_path, target):
    """SIGKILL at delays spread over a whole run; after each, every managed file is exactly
    its old or its new content. Then a normal run converges."""
    if target == "openssl_fips":
        args, env = openssl_args(stable), stable.env
        watched = [stable.openssl_cnf, stable.openssl_cnf + ".pre-fips",
                   os.path.join(stable.root, "etc/system-fips")]
    else:
        oem_dir, cmdline = oem
        args, env = grub_args(oem_dir, cmdline), {}
        watched = [str(oem_dir / "grub.cfg")]
    old = {p: read(p) for p in watched}

    def back_to_old():
        for p, state in old.items():
            if state is None:
                if os.path.lexists(p):
                    os.unlink(p)
            else:
                with open(p, "wb") as f:
                    f.write(state[1])

    # two complete runs on the side: the new contents, and how long a warm run takes (the first
    # run of a fresh checkout also compiles module_utils to bytecode and takes about twice as
    # long; kills spread over that would mostly come after the later, warm runs had finished)
    first = run(target, args, env=env)
    assert first["changed"]
    new = {p: read(p) for p in watched}
    back_to_old()
    second = run(target, args, env=env)
    assert second["changed"] and {p: read(p) for p in watched} == new
    duration = max(min(first.duration, second.duration), 0.2)
    back_to_old()
    killed = 0
    for i in range(12):  # kills at 0/12 .. 11/12 of a warm run
        killed += kill_after(module_command(target, args, tmpdir=str(tmp_path)),
                             duration * i / 12, env)
        for p in watched:
            assert read(p) in (old[p], new[p]), "%s is torn after a kill at %d/12" % (p, i)
    assert killed >= 6  # most runs really were killed mid-way
    run(target, args, env=env)
    assert {p: read(p) for p in watched} == new
    if target == "openssl_fips":
        stable.assert_fips_active()
    else:
        assert "fips=1" in grub_reads(watched[0])
