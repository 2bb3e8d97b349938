#!/usr/bin/env bash
# cryptsetup built in FIPS mode the way Flatcar builds it (--enable-fips, the OpenSSL backend),
# for the VM testbed: Debian's own cryptsetup-bin is not a FIPS build and accepts argon2 under
# fips=1, so the claims of the guide's LUKS section could never be observed on it.
#
#   build-cryptsetup-fips.sh CACHE_DIR     prints the directory of the build (cached by versions)
#
# Sources: Debian's cryptsetup and openssl source packages from trixie (deb-src only: nothing is
# installed from trixie). Flatcar stable ships cryptsetup 2.8 with OpenSSL 3.5 (LTS: 2.7.2 with
# 3.2): cryptsetup takes argon2 from OpenSSL only when OpenSSL is 3.2 or newer, and that is what
# makes an argon2 keyslot impossible to open in FIPS mode (the FIPS provider has no argon2). The
# testbed's system OpenSSL is bookworm's 3.0, so cryptsetup gets a private libcrypto (OpenSSL 3.5,
# prefix PREFIX below, OPENSSLDIR /etc/ssl): it reads the host's /etc/ssl/openssl.cnf and loads the
# same fips.so, so it is in FIPS mode exactly when the rest of the host is.
#
# Output, in CACHE_DIR/cryptsetup-<version>-openssl-<version>/:
#   root/usr/sbin/cryptsetup                       the binary (RUNPATH PREFIX/lib)
#   root/PREFIX/lib/libcryptsetup.so.12*, libcrypto.so.3
#   BUILDINFO                                      versions and configure options
set -euo pipefail
cache=${1:?CACHE_DIR}
PREFIX=/usr/lib/flatcar-fips-cryptsetup
log() { printf '[cryptsetup-fips %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# What building needs (Debian 12 packages): compilers and the libraries cryptsetup links.
BUILD_DEPS=(gcc make perl pkg-config autoconf automake libtool autopoint gettext
            libdevmapper-dev libjson-c-dev uuid-dev libblkid-dev libpopt-dev libudev-dev)
CS_CONFIGURE=(--prefix=/usr --sbindir=/usr/sbin --libdir="$PREFIX/lib" --enable-fips
              --with-crypto_backend=openssl --disable-asciidoc --disable-ssh-token
              --disable-nls --disable-veritysetup --disable-integritysetup
              --disable-static)
SSL_CONFIGURE=(linux-x86_64 --prefix="$PREFIX" --libdir=lib --openssldir=/etc/ssl shared
               no-tests no-docs)

src_list=/etc/apt/sources.list.d/flatcar-fips-trixie-src.sources
ensure_sources() {
    if ! apt-cache showsrc cryptsetup 2>/dev/null | grep -q '^Version: 2:2\.[7-9]'; then
        log "adding Debian trixie deb-src ($src_list: source packages only) and updating"
        cat > "$src_list" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        # Seen with build-fips-so.sh: the first update after adding deb-src entries sometimes
        # lists no sources yet.
        local attempt
        for attempt in 1 2 3; do
            apt-get update -qq || true
            apt-cache showsrc cryptsetup 2>/dev/null | grep -q '^Version: 2:2\.[7-9]' && return 0
            log "no cryptsetup 2.7+ sources listed yet (attempt $attempt), updating again"
            sleep 2
        done
        log "ERROR: no cryptsetup 2.7+ source package is available from $src_list"
        exit 1
    fi
}

# newest first; a version the index lists is not always on the mirror: try the next one
download() {  # PACKAGE VERSION_REGEX DIR -> echoes the version downloaded
    local pkg=$1 re=$2 dir=$3 v
    for v in $(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | grep -E "$re" | sort -urV); do
        rm -rf "${dir:?}"/*
        (cd "$dir" && apt-get source --download-only -qq "$pkg=$v" >/dev/null 2>&1) || true
        if orig_tarball "$dir" "$pkg" >/dev/null; then echo "$v"; return 0; fi
        log "$pkg $v is listed but not downloadable; trying an older one"
    done
    log "ERROR: no $pkg source matching $re could be downloaded (apt-get source)"
    return 1
}

orig_tarball() {  # DIR PACKAGE -> the upstream tarball (not its .asc signature)
    local f
    for f in "$1/$2"_*.orig.tar.gz "$1/$2"_*.orig.tar.xz "$1/$2"_*.orig.tar.bz2; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

ensure_deps() {
    local missing=() p
    for p in "${BUILD_DEPS[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing build dependencies: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

ensure_sources
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cs" "$work/ssl"
cs_deb=$(download cryptsetup '^2:2\.([7-9]|[1-9][0-9])\.' "$work/cs")
ssl_deb=$(download openssl '^3\.([2-9]|[1-9][0-9])\.' "$work/ssl")
cs_ver=${cs_deb#*:}; cs_ver=${cs_ver%%-*}
ssl_ver=${ssl_deb%%-*}
out="$cache/cryptsetup-$cs_ver-openssl-$ssl_ver"
if [ -x "$out/root/usr/sbin/cryptsetup" ] && [ -s "$out/BUILDINFO" ]; then
    log "cached: $out"
    echo "$out"
    exit 0
fi
ensure_deps
jobs=$(nproc)

log "building OpenSSL $ssl_ver (Debian $ssl_deb) as cryptsetup's private libcrypto (a few minutes)"
tar -xf "$(orig_tarball "$work/ssl" openssl)" -C "$work/ssl"
ssl_src=$(ls -d "$work"/ssl/openssl-"$ssl_ver"*/)
stage=$work/stage
(
    cd "$ssl_src"
    ./Configure "${SSL_CONFIGURE[@]}" > "$work/ssl-configure.log" 2>&1
    make -j"$jobs" build_libs > "$work/ssl-build.log" 2>&1
    make install_dev DESTDIR="$stage" >> "$work/ssl-build.log" 2>&1
) || { log "ERROR: OpenSSL build failed; last lines:"; tail -n 30 "$work"/ssl-*.log >&2; exit 1; }

log "building cryptsetup $cs_ver (Debian $cs_deb) with --enable-fips and the OpenSSL backend"
tar -xf "$(orig_tarball "$work/cs" cryptsetup)" -C "$work/cs"
cs_src=$(ls -d "$work"/cs/cryptsetup-"$cs_ver"*/)
(
    cd "$cs_src"
    # Debian's orig tarball is the release tag's tree: generate configure first
    [ -x configure ] || ./autogen.sh > "$work/cs-autogen.log" 2>&1
    # CPPFLAGS too: configure's check for OpenSSL's argon2 (OSSL_KDF_PARAM_ARGON2_VERSION) reads
    # only CPPFLAGS; without it cryptsetup falls back to its bundled argon2, which FIPS mode
    # does not refuse (the point of this build)
    CPPFLAGS="-I$stage$PREFIX/include" \
    OPENSSL_CFLAGS="-I$stage$PREFIX/include" \
    OPENSSL_LIBS="-L$stage$PREFIX/lib -lcrypto" \
    LDFLAGS="-L$stage$PREFIX/lib -Wl,-rpath,$PREFIX/lib -Wl,-rpath-link,$stage$PREFIX/lib" \
        ./configure "${CS_CONFIGURE[@]}" > "$work/cs-configure.log" 2>&1
    make -j"$jobs" > "$work/cs-build.log" 2>&1
    make install DESTDIR="$stage" >> "$work/cs-build.log" 2>&1
) || { log "ERROR: cryptsetup build failed; last lines:"; tail -n 30 "$work"/cs-*.log >&2; exit 1; }  # autogen, configure, build

# keep what runs: the binary and the two shared libraries (no headers, pkg-config, tokens)
tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/root/usr/sbin" "$tmp/root$PREFIX/lib"
install -m 0755 "$stage/usr/sbin/cryptsetup" "$tmp/root/usr/sbin/cryptsetup"
cp -a "$stage$PREFIX"/lib/libcryptsetup.so.12* "$stage$PREFIX"/lib/libcrypto.so.3 "$tmp/root$PREFIX/lib/"
strip --strip-unneeded "$tmp/root/usr/sbin/cryptsetup" "$tmp/root$PREFIX"/lib/*.so.* 2>/dev/null || true
version=$(LD_LIBRARY_PATH="$tmp/root$PREFIX/lib" "$tmp/root/usr/sbin/cryptsetup" --version)
case $version in
    *FIPS*) ;;
    *) log "ERROR: the build does not report FIPS support: $version"; exit 1 ;;
esac
# argon2 must come from OpenSSL (refused in FIPS mode), not from a bundled library
touch "$work/empty"
backend=$(OPENSSL_CONF=/dev/null LD_LIBRARY_PATH="$tmp/root$PREFIX/lib" \
          "$tmp/root/usr/sbin/cryptsetup" --debug isLuks "$work/empty" 2>&1 | grep 'Crypto backend' || true)
case $backend in
    *OpenSSL\ "$ssl_ver"*) case $backend in *libargon2*) bad=1 ;; *) bad=0 ;; esac ;;
    *) bad=1 ;;
esac
if [ "$bad" = 1 ]; then
    log "ERROR: cryptsetup does not use OpenSSL $ssl_ver's argon2: $backend"; exit 1
fi
{
    echo "cryptsetup: $cs_ver (Debian source $cs_deb)"
    echo "cryptsetup --version: $version"
    echo "cryptsetup backend: ${backend#*Crypto backend }"
    echo "cryptsetup configure: ${CS_CONFIGURE[*]}"
    echo "openssl: $ssl_ver (Debian source $ssl_deb), private libcrypto in $PREFIX/lib"
    echo "openssl Configure: ${SSL_CONFIGURE[*]}"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
} > "$tmp/BUILDINFO"
rm -rf "$out"
mv "$tmp" "$out"
log "built $out: $version"
echo "$out"
