# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): the controller's cost per host of the role's verdict, on a simulated
fleet of N inventory hosts on this machine.

After its one read on a host, everything the role decides happens on the controller: the 17
compliance checks (flatcar.fips.fips_compliance, the one judge) and the role's decisions
(flatcar.fips.fips_mode_decision: failed checks, outcome). This runs those exact filters, as
finish.yml calls them, in a real ansible-playbook over N hosts (a mixed fleet of synthetic facts:
enabled, pending reboot, disabled, unreadable LUKS), and the same playbook with the filters left
out (set_fact of the same size) as the baseline; the difference divided by N is the verdict's
cost per host. Nothing connects (set_fact and debug run on the controller).

    make bench    (or: python bench/fleet_verdict.py [N ...])
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "controller"))

from test_one_judge import mixed_fleet  # the synthetic facts the report example uses

BIN = os.path.dirname(sys.executable)
RUNS = 3
PLAYBOOK = """- name: The role's verdict on every host of a simulated fleet
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Evaluate the compliance checks (as roles/fips_mode/tasks/finish.yml)
      ansible.builtin.set_fact:
        bench_compliance: "{{ synthetic_facts | flatcar.fips.fips_compliance
                              if verdict else synthetic_facts.system }}"

    - name: The failed checks and the outcome line (flatcar.fips.fips_mode_decision)
      ansible.builtin.set_fact:
        bench_failed: >-
          {{ 'failed_checks' | flatcar.fips.fips_mode_decision(compliance=bench_compliance,
                                                               tolerated=[])
             if verdict else [] }}
        bench_outcome: >-
          {{ 'outcome' | flatcar.fips.fips_mode_decision(settings=settings, changed_layers=[],
               reboot_required=false, rebooted=false, check_mode=false, signal_removed=false)
             if verdict else '' }}
"""
SETTINGS = dict(state="enabled", reboot_method="ansible", verify=True)


def inventory(path, n):
    fleet = [facts for facts, _error in mixed_fleet().values() if facts is not None]
    hosts = {"node-%04d.example" % i: dict(ansible_connection="local",
                                           synthetic_facts=fleet[i % len(fleet)])
             for i in range(n)}
    with open(path, "w") as f:
        json.dump({"fleet": {"hosts": hosts}}, f)


def run(scratch, inv, verdict):
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=os.path.join(scratch, "tmp"),
               ANSIBLE_FORKS="10", ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inv, os.path.join(scratch, "verdict.yml"),
           "-e", json.dumps(dict(verdict=verdict, settings=SETTINGS))]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(proc.stdout[-4000:] + proc.stderr[-4000:])
    return wall


def main(sizes):
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, "verdict.yml"), "w") as f:
            f.write(PLAYBOOK)
        for n in sizes:
            inv = os.path.join(scratch, "inventory-%d.json" % n)
            inventory(inv, n)
            base, full = [], []
            for _run in range(RUNS):  # alternating, so that drift hits both alike
                base.append(run(scratch, inv, False))
                full.append(run(scratch, inv, True))
            b, v = statistics.median(base), statistics.median(full)
            rows.append(dict(hosts=n, baseline=round(b, 2), with_verdict=round(v, 2),
                             per_host_ms=round((v - b) * 1000 / n, 1)))
            print("%5d hosts: baseline %.2f s, with the verdict %.2f s: %.1f ms per host"
                  % (n, b, v, (v - b) * 1000 / n), flush=True)
    out = os.path.join(ROOT, "bench", "results", "fleet_verdict.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(dict(date=time.strftime("%Y-%m-%d"), runs=RUNS, rows=rows), f, indent=1)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 300])
