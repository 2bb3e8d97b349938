#!/usr/bin/env bash
# Run Molecule scenarios in two lanes side by side, one single-vCPU VM per lane (a 2-core
# machine runs two TCG guests at about the speed it runs one with two vCPUs). The images are
# built (or found in the cache) first, so that no two lanes build the same image.
#
#   molecule-lanes.sh LOG_DIR "SCENARIO..." "SCENARIO..."
#
# Each scenario's full output goes to LOG_DIR/SCENARIO.log and is printed when the scenario ends;
# a one-line summary with its duration follows. Exits non-zero when any scenario failed.
set -uo pipefail
logs=${1:?log dir} lane_a=${2:?scenarios of lane A} lane_b=${3:?scenarios of lane B}
here=$(cd "$(dirname "$0")" && pwd)
extensions=$here/../../extensions
: "${TESTBED_CACHE:?}" "${FLATCAR_FIPS_SO_DIR:?}"
mkdir -p "$logs"
# this run's logs only: the summary at the end lists every .done file here
rm -f "$logs"/*.log "$logs"/*.done
t0=$SECONDS

for variant in stable lts; do
    bash "$here/image.sh" "$variant" "$TESTBED_CACHE/images" "$FLATCAR_FIPS_SO_DIR/current/fips.so" \
        >/dev/null || exit 1
done
# The hosts have no Python: the scenarios bootstrap it from these (sysext image, tarball).
TESTBED_PYTHON=$(bash "$here/python-artifacts.sh" "$TESTBED_CACHE/images") || exit 1
export TESTBED_PYTHON

lane() {
    local status=0 s start
    for s in "$@"; do
        start=$SECONDS
        if (cd "$extensions" && TESTBED_SMP=1 molecule test -s "$s") >"$logs/$s.log" 2>&1; then
            result=passed
        else
            result=FAILED; status=1
        fi
        { cat "$logs/$s.log"
          echo "e2e: molecule scenario $s $result in $(( SECONDS - start ))s"; } > "$logs/$s.done"
        cat "$logs/$s.done"
        [ "$status" = 0 ] || break
    done
    return "$status"
}

echo "e2e: lane A: $lane_a; lane B: $lane_b (logs in $logs)"
read -r -a scenarios_a <<< "$lane_a"
read -r -a scenarios_b <<< "$lane_b"
lane "${scenarios_a[@]}" & pid_a=$!
lane "${scenarios_b[@]}" & pid_b=$!
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
grep -h '^e2e: molecule scenario' "$logs"/*.done
echo "e2e: both lanes done in $(( SECONDS - t0 ))s"
[ "$rc_a" = 0 ] && [ "$rc_b" = 0 ]
