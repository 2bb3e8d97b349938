# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): the fleet report from Ansible's fact cache, for N synthetic hosts.

Fills a real jsonfile fact cache with the flatcar_fips facts of N hosts (a mixed fleet: enabled,
pending reboot, disabled, unreadable LUKS, and hosts nothing was cached for) through
ansible.builtin.set_fact with cacheable, then runs 'ansible-playbook flatcar.fips.report -e
fips_report_from_cache=true' against an inventory of the same N hosts, which are not reachable
(nothing may connect). Reports the wall time (median of R runs), the peak memory of the
ansible-playbook process, and the controller cost per host. Results go to docs/benchmarks.md
by hand.

    make bench    (or: python bench/report_from_cache.py [N ...])
"""

import json
import os
import resource
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
POPULATE = """- name: Put synthetic flatcar_fips facts into the fact cache
  hosts: all
  gather_facts: false
  tasks:
    - name: Cache them
      ansible.builtin.set_fact:
        flatcar_fips: "{{ synthetic_facts }}"
        cacheable: true
      when: synthetic_facts is defined
"""


def inventory(path, n, with_facts):
    fleet = list(mixed_fleet().values())
    hosts = {}
    for i in range(n):
        facts, _error = fleet[i % len(fleet)]
        # unreachable on purpose: the report from the cache must not connect
        entry = dict(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=1)
        if with_facts and facts is not None:
            entry["synthetic_facts"] = facts
        hosts["node-%04d.example" % i] = entry
    with open(path, "w") as f:
        json.dump({"fleet": {"hosts": hosts}}, f)


def run(cmd, env, cwd):
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed, proc.stdout


def bench(n):
    work = tempfile.mkdtemp(prefix="flatcar-fips-bench-report-")
    env = dict(os.environ, ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(work, "cache"),
               ANSIBLE_CACHE_PLUGIN_TIMEOUT="0", ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS="5",
               ANSIBLE_HOST_KEY_CHECKING="0")
    populate = os.path.join(work, "populate.yml")
    with open(populate, "w") as f:
        f.write(POPULATE)
    inventory(os.path.join(work, "with-facts.json"), n, True)
    inventory(os.path.join(work, "fleet.json"), n, False)
    fill, _out = run([os.path.join(BIN, "ansible-playbook"), "-i", "with-facts.json",
                      "populate.yml"], env, work)
    times = []
    for _run in range(RUNS):
        elapsed, out = run([os.path.join(BIN, "ansible-playbook"), "-i", "fleet.json",
                            "flatcar.fips.report", "-e", "fips_report_from_cache=true"],
                           env, work)
        if "unreachable=0" not in out:
            sys.exit("the report from the cache contacted a host:\n%s" % out[-3000:])
        times.append(elapsed)
    with open(os.path.join(work, "fips-report", "report.json")) as f:
        totals = json.load(f)["totals"]
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return dict(hosts=n, fill_s=round(fill, 1), median_s=round(statistics.median(times), 2),
                min_s=round(min(times), 2), max_s=round(max(times), 2),
                per_host_ms=round(1000 * statistics.median(times) / n, 2),
                peak_rss_mib=round(peak_mib), totals=totals,
                report_bytes={name: os.path.getsize(os.path.join(work, "fips-report", name))
                              for name in sorted(os.listdir(os.path.join(work, "fips-report")))})


def main(sizes):
    for n in sizes:
        print(json.dumps(bench(n), sort_keys=True))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000])
