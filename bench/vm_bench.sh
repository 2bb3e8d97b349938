#!/usr/bin/env bash
# make bench, the VM part: the Molecule scenario extensions/molecule/bench (two stable VMs side
# by side; its converge runs bench/vm_bench.py). Results: JSON in $BENCH_OUT (default
# bench/results/vm.json), and the plot in docs/ (bench/plot.py, run by make bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testbed=$here/../tests/testbed
: "${TESTBED_CACHE:?}" "${FLATCAR_FIPS_SO_DIR:?}"
export BENCH_OUT=${BENCH_OUT:-$here/results/vm.json}
mkdir -p "$(dirname "$BENCH_OUT")"
bash "$testbed/image.sh" stable "$TESTBED_CACHE/images" "$FLATCAR_FIPS_SO_DIR/current/fips.so" >/dev/null
TESTBED_PYTHON=$(bash "$testbed/python-artifacts.sh" "$TESTBED_CACHE/images")
export TESTBED_PYTHON TESTBED_SMP=${TESTBED_SMP:-1}
cd "$here/../extensions"
molecule test -s bench
echo "results: $BENCH_OUT"
