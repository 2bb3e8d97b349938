#!/usr/bin/env bash
# Print the cached image directory for VARIANT, building the image first when the cache has none.
#
#   image.sh VARIANT CACHE_DIR FIPS_SO
#
# The cache key is a hash of everything the build reads from this repository (the build scripts
# and tests/testbed/files) plus the fips.so it installs. Debian packages come from the mirror at
# build time; a rebuild is forced by deleting the cache directory.
set -euo pipefail
variant=${1:?variant} cache=${2:?cache dir} fips_so=${3:?fips.so}
here=$(cd "$(dirname "$0")" && pwd)
key=$( { cat "$here/build-image.sh" "$here/customize.sh" "$here/base.sh" "$here/packages.txt" \
               "$fips_so"; \
         find "$here/files" -type f -print0 | sort -z | xargs -0 cat; echo "$variant"; } \
       | sha256sum | cut -c1-16)
dir=$cache/$variant-$key
if [ ! -s "$dir/disk.img" ]; then
    start=$SECONDS
    bash "$here/build-image.sh" "$variant" "$dir" "$fips_so" >&2
    echo "[image] built $variant in $(( SECONDS - start ))s: $dir" >&2
else
    echo "[image] cached: $dir" >&2
fi
echo "$dir"
