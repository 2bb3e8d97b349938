# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): the role against the guide's steps as a naive playbook, on two testbed
VMs side by side, and fips_facts against ping and setup ad hoc.

Run by the Molecule scenario extensions/molecule/bench (make bench -> bench/vm_bench.sh), which
boots testbed-role and testbed-naive and brings Python; this script inherits Molecule's
environment (ANSIBLE_CONFIG with its SSH options, the inventory) and runs the real commands an
operator runs:

1. the first converge of both, side by side: ``ansible-playbook flatcar.fips.enable`` on
   testbed-role, ``ansible-playbook bench/naive/fips.yml`` on testbed-naive (each reboots its VM);
2. RUNS converged re-runs of each, alternating (role, naive, role, ...), one at a time;
3. RUNS rounds of ``ansible testbed-role -m ping``, ``-m flatcar.fips.fips_facts``, ``-m setup``,
   alternating.

Wall times are the whole command, as the operator waits for it; module round trips per host come
from tests/integration/callback_plugins/round_trips.py. Writes JSON to --out and prints a table.

With ``--then COLLECTIONS_PATH`` (make bench-then: the collection as of an earlier commit), it
measures instead what a host that needs every layer costs now against then: both VMs run
``flatcar.fips.enable`` with the same variables, side by side, one with this collection and the
other with the earlier one (``--swap`` exchanges the VMs), then RUNS converged re-runs of each,
alternating.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CALLBACKS = os.path.join(ROOT, "tests", "integration", "callback_plugins")
BIN = os.path.dirname(sys.executable)


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else name


def start(cmd, trips, **extra_env):
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=CALLBACKS,
               ANSIBLE_CALLBACKS_ENABLED="round_trips", ROUND_TRIPS=trips, ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", **extra_env)
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc, started, trips, what):
    out = proc.communicate()[0]
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("%s failed (rc=%d):\n%s" % (what, proc.returncode, out[-6000:]))
    counted = {}
    if os.path.exists(trips):
        with open(trips) as f:
            counted = json.load(f)
        os.unlink(trips)
    return dict(wall=round(wall, 2), round_trips={h: v["round_trips"] for h, v in counted.items()},
                tasks={h: v["tasks"] for h, v in counted.items()}, changed="changed=0" not in out)


def timed(cmd, scratch, what, **extra_env):
    trips = os.path.join(scratch, "trips.json")
    started = time.monotonic()
    return finish(start(cmd, trips, **extra_env), started, trips, what)


def side_by_side(jobs, scratch):
    """The first converge of each job (name: (command, environment)), all at the same time."""
    started, procs = time.monotonic(), {}
    for name, (cmd, extra_env) in jobs.items():
        trips = os.path.join(scratch, name + ".json")
        procs[name] = (start(cmd, trips, **extra_env), trips)
    done = {name: finish(proc, started, trips, name + " first converge")
            for name, (proc, trips) in procs.items()}
    print("first converge:", ", ".join("%s %ss" % (k, v["wall"]) for k, v in done.items()),
          flush=True)
    return done


def converged_reruns(jobs, runs, scratch):
    """RUNS re-runs of each job, alternating, one at a time; each must change nothing."""
    reruns = {name: [] for name in jobs}
    for i in range(runs):
        for name, (cmd, extra_env) in jobs.items():
            sample = timed(cmd, scratch, "%s re-run %d" % (name, i + 1), **extra_env)
            if sample["changed"]:
                sys.exit("%s re-run %d changed something: not converged" % (name, i + 1))
            reruns[name].append(sample)
            print("re-run %d %s: %ss, round trips %s" % (i + 1, name, sample["wall"],
                                                         sample["round_trips"]), flush=True)
    return {name: summary(samples) for name, samples in reruns.items()}


def summary(samples):
    walls = [s["wall"] for s in samples]
    return dict(median=round(statistics.median(walls), 2), min=min(walls), max=max(walls),
                runs=walls, round_trips=samples[-1]["round_trips"], tasks=samples[-1]["tasks"])


# The role's variables for both VMs in --then mode (the bench_role group's, given to both).
ROLE_VARS = dict(fips_mode_reboot_ok=True, fips_mode_known_hosts="learn",
                 fips_mode_luks_devices=["/var/lib/luks/pbkdf2.img"],
                 fips_mode_luks_accept_argon2=[])


def then_vs_now(args, playbook, results):
    """A host that needs every layer, and a converged one: this collection against ``--then``."""
    hosts = ["testbed-role", "testbed-naive"]
    if args.swap:
        hosts.reverse()
    now_env = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    runs = dict(now=(hosts[0], now_env),
                then=(hosts[1], os.pathsep.join(p for p in (args.then, now_env) if p)))
    results.update(then=args.then, hosts={k: host for k, (host, _p) in runs.items()})
    jobs = {k: ([*playbook, "flatcar.fips.enable", "--limit", host, "-e", json.dumps(ROLE_VARS)],
                dict(ANSIBLE_COLLECTIONS_PATH=path)) for k, (host, path) in runs.items()}
    with tempfile.TemporaryDirectory() as scratch:
        results["first_converge"] = side_by_side(jobs, scratch)
        results["converged_rerun"] = converged_reruns(jobs, args.runs, scratch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inventory", required=True, help="comma-separated inventory sources")
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--then", help="a collections path holding an earlier flatcar.fips")
    parser.add_argument("--swap", action="store_true", help="with --then: exchange the VMs")
    args = parser.parse_args()
    inv = []
    for source in args.inventory.split(","):
        inv += ["-i", source]
    playbook = [tool("ansible-playbook"), *inv]
    role = [*playbook, "flatcar.fips.enable", "--limit", "testbed-role"]
    naive = [*playbook, os.path.join(HERE, "naive", "fips.yml"), "--limit", "testbed-naive"]
    adhoc = [tool("ansible"), *inv, "testbed-role", "-b", "-m"]
    results = dict(date=time.strftime("%Y-%m-%d"), runs=args.runs,
                   machine="%d cores, %s, Python %s" % (
                       os.cpu_count(), platform.platform(terse=True), platform.python_version()),
                   pipelining=os.environ.get("ANSIBLE_PIPELINING", "default"))
    if args.then:
        then_vs_now(args, playbook, results)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        print(json.dumps(results, indent=1))
        return
    with tempfile.TemporaryDirectory() as scratch:
        # 1. first converge, side by side; 2. converged re-runs, alternating
        jobs = dict(role=(role, {}), naive=(naive, {}))
        results["first_converge"] = side_by_side(jobs, scratch)
        results["converged_rerun"] = converged_reruns(jobs, args.runs, scratch)
        results["speedup"] = round(results["converged_rerun"]["naive"]["median"]
                                   / results["converged_rerun"]["role"]["median"], 2)
        # 3. ad hoc
        adhoc_runs = dict(ping=[], fips_facts=[], setup=[])
        for i in range(args.runs):
            for name, module in (("ping", "ansible.builtin.ping"),
                                 ("fips_facts", "flatcar.fips.fips_facts"),
                                 ("setup", "ansible.builtin.setup")):
                sample = timed([*adhoc, module], scratch, "ad hoc %s" % name)
                adhoc_runs[name].append(sample)
                print("ad hoc %d %s: %ss" % (i + 1, name, sample["wall"]), flush=True)
        results["adhoc"] = {k: summary(v) for k, v in adhoc_runs.items()}
        results["fips_facts_vs_ping"] = round(results["adhoc"]["fips_facts"]["median"]
                                              / results["adhoc"]["ping"]["median"], 2)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps({k: results[k] for k in ("speedup", "fips_facts_vs_ping")}))
    print("role re-run median %(median)ss, round trips %(round_trips)s"
          % results["converged_rerun"]["role"])
    print("naive re-run median %(median)ss, round trips %(round_trips)s"
          % results["converged_rerun"]["naive"])
    for name in ("ping", "fips_facts", "setup"):
        print("ad hoc %s median %ss" % (name, results["adhoc"][name]["median"]))


if __name__ == "__main__":
    main()
