#!/usr/bin/env bash
# Build real OpenSSL 3.0.x FIPS providers (fips.so) from Debian's openssl source packages.
#
#   build-fips-so.sh CACHE_DIR
#
# Debian's openssl ships no fips.so, but its source is in the archive. This script adds deb-src
# entries for the configured Debian mirrors (once), then builds fips.so for two source versions:
#   CACHE_DIR/current/fips.so  the newest version the archive has (stands for the image's module)
#   CACHE_DIR/update/fips.so   an older, different version (stands for "an OS update replaced
#                              the module": another build, another module-mac)
# Each build is cached under CACHE_DIR/<version>/ and reused; current/update are symlinks.
# Only the provider is built: ./Configure enable-fips && make build_generated providers/fips.so
set -euo pipefail

cache=${1:?usage: build-fips-so.sh CACHE_DIR}
mkdir -p "$cache"

log() { printf 'build-fips-so: %s\n' "$*" >&2; }

# (apt-cache output is captured first: with pipefail, grep -q closing the pipe early would
# make the pipeline fail.)
has_sources() {
    local out
    out=$(apt-cache showsrc openssl 2>/dev/null || true)
    [[ $out == *$'\nVersion: '* || $out == 'Version: '* ]]
}

ensure_deb_src() {
    if has_sources; then
        return
    fi
    local src=/etc/apt/sources.list.d/flatcar-fips-deb-src.sources
    log "adding deb-src entries ($src) and updating the package lists"
    : > "$src.new"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ "$f" = "$src" ] && continue
        # copy each Debian stanza with Types: deb-src
        awk 'BEGIN{RS=""; ORS="\n\n"} /URIs: *http[^\n]*debian/ {sub(/Types: *deb\n/, "Types: deb-src\n"); print}' "$f" >> "$src.new"
    done
    if [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb \(.*debian.*\)$/deb-src \1/p' /etc/apt/sources.list > /etc/apt/sources.list.d/flatcar-fips-deb-src.list
    fi
    mv "$src.new" "$src"
    # Seen here: the first update after adding deb-src entries sometimes lists no sources yet.
    for attempt in 1 2 3; do
        apt-get update -qq || true
        has_sources && break
        log "no openssl sources listed yet (attempt $attempt), updating again"
        sleep 2
    done
    if ! has_sources; then
        log "ERROR: no openssl source package is available from the configured mirrors"
        exit 1
    fi
}

build_version() {
    local debver=$1 upstream=${1%%-*}
    local out="$cache/$upstream"
    if [ -s "$out/fips.so" ]; then
        log "cached: $out/fips.so"
        return
    fi
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    log "downloading openssl $debver source"
    # The .dsc download can fail on some mirrors; the upstream tarball is what matters.
    (cd "$work" && apt-get source --download-only -qq "openssl=$debver" >/dev/null 2>&1) || true
    local tarballs=("$work"/openssl_"$upstream".orig.tar.*)
    local tarball=${tarballs[0]}
    if [ ! -f "$tarball" ]; then
        log "ERROR: could not download openssl_$upstream.orig.tar.* (apt-get source openssl=$debver)"
        exit 1
    fi
    log "building fips.so from $(basename "$tarball") (a few minutes on 2 cores)"
    tar -xf "$tarball" -C "$work"
    local srcdirs=("$work"/openssl-"$upstream"*/)
    local srcdir=${srcdirs[0]%/}
    (
        cd "$srcdir"
        ./Configure enable-fips no-shared no-tests > "$work/configure.log" 2>&1
        make -j"$(nproc)" build_generated > "$work/build.log" 2>&1
        make -j"$(nproc)" providers/fips.so >> "$work/build.log" 2>&1
    ) || { log "ERROR: build failed; last lines:"; tail -n 30 "$work/build.log" >&2 || true; exit 1; }
    mkdir -p "$out.tmp"
    install -m 0755 "$srcdir/providers/fips.so" "$out.tmp/fips.so"
    echo "$debver" > "$out.tmp/VERSION"
    rm -rf "$out"
    mv "$out.tmp" "$out"
    log "built $out/fips.so"
}

ensure_deb_src
mapfile -t versions < <(apt-cache showsrc openssl | sed -n 's/^Version: //p' | grep '^3\.0\.' | sort -uV)
if [ "${#versions[@]}" -lt 2 ]; then
    log "ERROR: need two openssl 3.0.x source versions, the archive lists: ${versions[*]:-none}"
    exit 1
fi
current=${versions[-1]}
update=${versions[0]}
build_version "$current"
build_version "$update"
ln -sfn "${current%%-*}" "$cache/current"
ln -sfn "${update%%-*}" "$cache/update"
log "current: $(cat "$cache/current/VERSION"), update: $(cat "$cache/update/VERSION")"
