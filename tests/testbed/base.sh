#!/usr/bin/env bash
# Print the path of a cached Debian bookworm base tarball with PACKAGES (comma-separated),
# building it with mmdebstrap first when the cache has none (a few minutes). Shared by
# build-image.sh (the testbed without Python) and python-artifacts.sh (the same base with Python,
# whose difference becomes the Python system extension and tarball).
#
#   base.sh CACHE_DIR PACKAGES
set -euo pipefail
cache=${1:?cache dir} packages=${2:?packages}
base=$cache/base-$(printf '%s' "$packages" | sha256sum | cut -c1-12).tar
mkdir -p "$cache"
if [ ! -s "$base" ]; then
    echo "[base] debootstrapping a bookworm root with mmdebstrap (minutes, cached in $base)" >&2
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar --include="$packages" \
        --customize-hook="chroot \"\$1\" systemctl disable ssh.service" \
        bookworm "$base.tmp" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" >&2
    mv "$base.tmp" "$base"
fi
echo "$base"
