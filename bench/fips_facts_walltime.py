# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): the wall time of flatcar.fips.fips_facts on the target.

Builds a Flatcar-shaped host tree in FIPS mode on this machine (real fips.so from
'make fips-so', a real sshd configuration, a LUKS2 image), then runs the module N times as the
target would (python, module file, arguments file) and reports the module's own 'duration'
fact and the process wall time: median, min, max. Then, ad hoc on the local connection (a host
that is not emulated), N alternating runs each of 'ansible -m ping', of fips_facts reading only
the kernel layer (files, no program: the module's fixed cost) and of the whole read, on the same
tree: medians in bench/results/adhoc_local.json. With ``--against REV``, a fourth kind runs the
whole read with the collection as of REV (``git archive``, its own collections path), in the
same alternation: medians in bench/results/adhoc_local_against_REV.json. Results go to
docs/benchmarks.md by hand.

    make bench    (or: python bench/fips_facts_walltime.py [N] [--against REV])
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from openssl_tree import STOCK, Tree, fipsinstall
from sshd_layouts import Keys, Layout


def main(runs, against=None):
    work = tempfile.mkdtemp(prefix="flatcar-fips-bench-")
    tree = Tree(os.path.join(work, "root"))
    with open(STOCK) as f, open(tree.openssl_cnf, "w") as g:
        g.write(f.read())
    fipsinstall(tree.module, tree.fipsmodule_cnf)
    keys = Keys(tempfile.mkdtemp(dir=work))
    sshd = Layout(os.path.join(work, "sshd"), "stable", keys)
    luks = os.path.join(work, "data.img")
    with open(luks, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    subprocess.run(["cryptsetup", "--batch-mode", "luksFormat", "--type", "luks2",
                    "--pbkdf-force-iterations", "1000", "--pbkdf", "pbkdf2", "--key-file=-",
                    luks], input=b"k", check=True, capture_output=True)
    os.makedirs(os.path.join(work, "proc"))
    for name, text in (("fips_enabled", "1\n"), ("cmdline", "root=LABEL=ROOT fips=1\n")):
        with open(os.path.join(work, "proc", name), "w") as f:
            f.write(text)
    args = dict(ANSIBLE_MODULE_ARGS=dict(
        proc_cmdline=os.path.join(work, "proc/cmdline"),
        fips_enabled_path=os.path.join(work, "proc/fips_enabled"),
        grub_cfg=os.path.join(work, "grub.cfg"),
        openssl_cnf=tree.openssl_cnf, fipsmodule_cnf=tree.fipsmodule_cnf, module=tree.module,
        system_fips_path=os.path.join(work, "system-fips"), sshd_config=sshd.main,
        luks_devices=[luks]))
    args_file = os.path.join(work, "args.json")
    with open(args_file, "w") as f:
        json.dump(args, f)
    collections = os.path.join(work, "collections")
    os.makedirs(os.path.join(collections, "ansible_collections", "flatcar"))
    os.symlink(ROOT, os.path.join(collections, "ansible_collections", "flatcar", "fips"))
    env = dict(os.environ, PYTHONPATH=collections, OPENSSL_MODULES=tree.modules)
    module = os.path.join(ROOT, "plugins", "modules", "fips_facts.py")
    durations, walls = [], []
    for _run in range(runs):
        start = time.monotonic()
        out = subprocess.run([sys.executable, module, args_file], env=env, check=True,
                             capture_output=True, text=True).stdout
        walls.append(time.monotonic() - start)
        durations.append(json.loads(out)["ansible_facts"]["flatcar_fips"]["duration"])
    for label, values in (("module duration (s)", durations), ("process wall (s)", walls)):
        print("%-20s median %.3f  min %.3f  max %.3f  (n=%d)" % (
            label, statistics.median(values), min(values), max(values), len(values)))
    then = None
    if against:
        then = os.path.join(work, "then")
        target = os.path.join(then, "ansible_collections", "flatcar", "fips")
        os.makedirs(target)
        archive = subprocess.run(["git", "-C", ROOT, "archive", against], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    adhoc(runs, args["ANSIBLE_MODULE_ARGS"], dict(env, ANSIBLE_COLLECTIONS_PATH=collections),
          against, then)


def adhoc(runs, module_args, env, against=None, then=None):
    """Ad hoc wall times on the local connection, alternating, medians (see the docstring)."""
    now = env["ANSIBLE_COLLECTIONS_PATH"]
    kinds = [("ping", "ansible.builtin.ping", {}, now),
             ("fips_facts_kernel_only", "flatcar.fips.fips_facts",
              dict(module_args, gather=["kernel"]), now),
             ("fips_facts", "flatcar.fips.fips_facts", module_args, now)]
    if against:
        kinds.append(("fips_facts_at_%s" % against, "flatcar.fips.fips_facts", module_args, then))
    env = dict(env, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    walls = {label: [] for label, _m, _a, _c in kinds}
    for _run in range(runs):
        for label, name, margs, collections in kinds:
            start = time.monotonic()
            subprocess.run(["ansible", "localhost", "-c", "local", "-m", name,
                            "-e", "ansible_python_interpreter=%s" % sys.executable]
                           + (["-a", json.dumps(margs)] if margs else []),
                           env=dict(env, ANSIBLE_COLLECTIONS_PATH=collections,
                                    PYTHONPATH=collections),
                           check=True, capture_output=True)
            walls[label].append(time.monotonic() - start)
    medians = {label: round(statistics.median(v), 3) for label, v in walls.items()}
    for label, value in medians.items():
        print("ad hoc %-24s median %.3f s  (%.2fx ping, n=%d)"
              % (label, value, value / medians["ping"], runs))
    result = dict(date=datetime.date.today().isoformat(), machine=platform.node(),
                  cpus=os.cpu_count(), python=platform.python_version(), runs=runs,
                  against=against,
                  median_s=medians, walls_s={k: [round(x, 3) for x in v]
                                             for k, v in walls.items()})
    name = "adhoc_local_against_%s.json" % against if against else "adhoc_local.json"
    with open(os.path.join(ROOT, "bench", "results", name), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=20)
    parser.add_argument("--against", metavar="REV",
                        help="also run the whole read with the collection as of this commit")
    options = parser.parse_args()
    main(options.runs, options.against)
