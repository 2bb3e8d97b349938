#!/usr/bin/env bash
# Print the cached image directory for VARIANT, building the image first when the cache has none.
#
#   image.sh VARIANT CACHE_DIR FIPS_SO
#   TESTBED_IGNITION=CONFIG image.sh ...   a variant provisioned by real Ignition with CONFIG
#
# The cache key is a hash of everything the build reads from this repository (the build scripts
# and tests/testbed/files) plus the fips.so and the FIPS cryptsetup build it installs, and the
# Ignition config. Debian packages come from the mirror at build time; a rebuild is forced by
# deleting the cache directory.
set -euo pipefail
variant=${1:?variant} cache=${2:?cache dir} fips_so=${3:?fips.so}
here=$(cd "$(dirname "$0")" && pwd)
# cryptsetup as Flatcar builds it (FIPS mode, OpenSSL backend): tests/fips/build-cryptsetup-fips.sh
cryptsetup_fips=${FLATCAR_FIPS_CRYPTSETUP_DIR:-}
if [ ! -x "$cryptsetup_fips/root/usr/sbin/cryptsetup" ] || [ ! -s "$cryptsetup_fips/BUILDINFO" ]; then
    echo "[image] ERROR: no FIPS build of cryptsetup (FLATCAR_FIPS_CRYPTSETUP_DIR=$cryptsetup_fips):" \
         "run 'make cryptsetup-fips'" >&2
    exit 1
fi
export FLATCAR_FIPS_CRYPTSETUP_DIR=$cryptsetup_fips
ignition=${TESTBED_IGNITION:-}
if [ -n "$ignition" ] && [ ! -f "$ignition" ]; then
    echo "[image] ERROR: TESTBED_IGNITION=$ignition is not a file" >&2; exit 1
fi
key=$( { cat "$here/build-image.sh" "$here/customize.sh" "$here/base.sh" "$here/packages.txt" \
               "$fips_so" "$cryptsetup_fips/BUILDINFO" "$cryptsetup_fips/root/usr/sbin/cryptsetup"; \
         if [ -n "$ignition" ]; then cat "$here/apply-ignition.sh" "$ignition"; fi; \
         find "$here/files" -type f -print0 | sort -z | xargs -0 cat; echo "$variant"; } \
       | sha256sum | cut -c1-16)
dir=$cache/$variant${ignition:+-ignition}-$key
if [ ! -s "$dir/disk.img" ]; then
    start=$SECONDS
    bash "$here/build-image.sh" "$variant" "$dir" "$fips_so" >&2
    echo "[image] built $variant in $(( SECONDS - start ))s: $dir" >&2
else
    echo "[image] cached: $dir" >&2
fi
echo "$dir"
