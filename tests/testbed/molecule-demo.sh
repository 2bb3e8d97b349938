#!/usr/bin/env bash
# make demo: the main job on one Flatcar-like VM, with the `default` Molecule scenario's own
# steps (extensions/molecule/default): create (boot a fresh stable VM, no Python on it),
# prepare (the stable layout, proven not in FIPS mode), converge (flatcar.fips.enable: Python
# brought with raw, every layer switched, reboot into fips=1), verify (every layer inside the
# rebooted VM and from outside), destroy. `make test` runs the whole scenario (check,
# idempotence, switching back out as well).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${TESTBED_CACHE:?}" "${FLATCAR_FIPS_SO_DIR:?}"
t0=$SECONDS
step() { printf '\n=== [%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( SECONDS - t0 ))" "$*"; }

step "image (stable) and the Python the host will be bootstrapped with"
bash "$here/image.sh" stable "$TESTBED_CACHE/images" "$FLATCAR_FIPS_SO_DIR/current/fips.so" >/dev/null
TESTBED_PYTHON=$(bash "$here/python-artifacts.sh" "$TESTBED_CACHE/images")
export TESTBED_PYTHON

cd "$here/../../extensions"
trap 'molecule destroy -s default >/dev/null 2>&1 || true' EXIT
molecule destroy -s default >/dev/null 2>&1 || true
# molecule create runs the scenario's prepare too (its test matrix: dependency, create, prepare)
for action in create converge verify; do
    step "molecule $action -s default$([ "$action" = create ] && echo ' (create, then prepare)')"
    molecule "$action" -s default
done
step "done: stable verified in FIPS mode in $(( SECONDS - t0 ))s"
