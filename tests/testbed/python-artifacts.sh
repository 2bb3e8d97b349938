#!/usr/bin/env bash
# Build (or find in the cache) the Python the testbed's Python-less hosts are bootstrapped with,
# from Debian's own packages: the files that the Python packages add to the testbed's base.
#
#   python-artifacts.sh CACHE_DIR     # prints the directory holding:
#     python.raw               a systemd-sysext image (squashfs) with usr/..., and
#                              usr/lib/extension-release.d/extension-release.python saying
#                              ID=flatcar, SYSEXT_LEVEL=1.0 (as the testbed's os-release)
#     python-mismatch.raw      the same with ID=fedora: systemd-sysext refuses to merge it
#     python-portable.tar.gz   the same files under usr/, and bin/python3, a wrapper that runs
#                              them from wherever the tarball was unpacked (LD_LIBRARY_PATH)
#     SHA256SUMS
set -euo pipefail
cache=${1:?cache dir}
here=$(cd "$(dirname "$0")" && pwd)
packages=$(cat "$here/packages.txt")
key=$( { cat "$0" "$here/base.sh"; echo "$packages"; } | sha256sum | cut -c1-12)
out=$cache/python-$key
if [ -s "$out/SHA256SUMS" ]; then echo "[python] cached: $out" >&2; echo "$out"; exit 0; fi
start=$SECONDS
without=$(bash "$here/base.sh" "$cache" "$packages")
with=$(bash "$here/base.sh" "$cache" "$packages,python3")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/without" "$work/with"
tar --numeric-owner -xpf "$without" -C "$work/without" ./usr
tar --numeric-owner -xpf "$with" -C "$work/with" ./usr
# what the Python packages add under /usr (files and links; directories come with them)
(cd "$work/without" && find usr \( -type f -o -type l \) | LC_ALL=C sort) > "$work/base.list"
(cd "$work/with" && find usr \( -type f -o -type l \) | LC_ALL=C sort) > "$work/python.list"
LC_ALL=C comm -13 "$work/base.list" "$work/python.list" > "$work/added.list"
grep -qx 'usr/bin/python3' "$work/added.list" || { echo "[python] no usr/bin/python3 added" >&2; exit 1; }
mkdir -p "$work/sysext" "$work/portable/bin"
tar -C "$work/with" -cf - -T "$work/added.list" | tar -C "$work/sysext" -xpf -
cp -a "$work/sysext/usr" "$work/portable/usr"
mkdir -p "$work/sysext/usr/lib/extension-release.d"
mkdir -p "$out.tmp"
printf 'ID=flatcar\nSYSEXT_LEVEL=1.0\n' > "$work/sysext/usr/lib/extension-release.d/extension-release.python"
mksquashfs "$work/sysext" "$out.tmp/python.raw" -all-root -noappend -quiet >/dev/null
printf 'ID=fedora\nVERSION_ID=40\n' > "$work/sysext/usr/lib/extension-release.d/extension-release.python"
mksquashfs "$work/sysext" "$out.tmp/python-mismatch.raw" -all-root -noappend -quiet >/dev/null
cat > "$work/portable/bin/python3" <<'WRAP'
#!/bin/sh
# Portable Python from Debian's packages: run it from wherever it was unpacked.
top=$(dirname "$(dirname "$(readlink -f "$0")")")
LD_LIBRARY_PATH="$top/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    exec "$top/usr/bin/python3" "$@"
WRAP
chmod 0755 "$work/portable/bin/python3"
tar -C "$work/portable" --owner=0 --group=0 -czf "$out.tmp/python-portable.tar.gz" bin usr
(cd "$out.tmp" && sha256sum python.raw python-mismatch.raw python-portable.tar.gz > SHA256SUMS)
rm -rf "$out"; mv "$out.tmp" "$out"
echo "[python] built in $(( SECONDS - start ))s: $out ($(wc -l < "$work/added.list") files)" >&2
echo "$out"
