# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw docs/benchmarks.png from bench/results/vm.json (bench/vm_bench.py): the converged
re-run of the role against the naive playbook, with module round trips, and fips_facts against
ping and setup ad hoc. Run by make bench with matplotlib from bench/requirements-plot.txt."""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(src, dest):
    with open(src) as f:
        r = json.load(f)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    rerun = r["converged_rerun"]
    names = ["flatcar.fips.enable\n(role)", "guide's steps\n(naive playbook)"]
    keys = ["role", "naive"]
    medians = [rerun[k]["median"] for k in keys]
    bars = left.bar(names, medians, color=["#2b6cb0", "#a0aec0"])
    for rect, k in zip(bars, keys):
        trips = sum(rerun[k]["round_trips"].values())
        left.annotate("%.1f s\n%d round trip%s" % (rerun[k]["median"], trips, "s" * (trips != 1)),
                      (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                      ha="center", va="bottom", fontsize=9)
        left.scatter([rect.get_x() + rect.get_width() / 2] * len(rerun[k]["runs"]),
                     rerun[k]["runs"], color="black", s=8, zorder=3)
    left.set_ylabel("seconds (median of %d, dots: each run)" % r["runs"])
    left.set_title("Converged re-run: %.1fx faster" % r["speedup"])
    left.set_ylim(0, max(medians) * 1.3)
    adhoc = r["adhoc"]
    names = ["ping", "fips_facts", "setup"]
    bars = right.bar(names, [adhoc[n]["median"] for n in names],
                     color=["#a0aec0", "#2b6cb0", "#a0aec0"])
    for rect, n in zip(bars, names):
        right.annotate("%.1f s" % adhoc[n]["median"],
                       (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                       ha="center", va="bottom", fontsize=9)
    right.set_title("Ad hoc: fips_facts = %.2fx ping" % r["fips_facts_vs_ping"])
    right.set_ylim(0, max(adhoc[n]["median"] for n in names) * 1.25)
    fig.suptitle("Testbed VMs under TCG, %s, pipelining %s (%s)"
                 % (r["machine"], r["pipelining"], r["date"]), fontsize=9)
    fig.tight_layout()
    fig.savefig(dest, dpi=110)
    print("wrote", dest)


if __name__ == "__main__":
    main(*(sys.argv[1:] or [os.path.join(ROOT, "bench", "results", "vm.json"),
                            os.path.join(ROOT, "docs", "benchmarks.png")]))
