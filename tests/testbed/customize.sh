#!/usr/bin/env bash
# Turn a Debian bookworm root (ROOT) into a Flatcar look-alike where it matters for FIPS mode.
#
#   customize.sh VARIANT ROOT FIPS_SO PUBKEY OEM_DIR
#
# stable: OEM at /oem (/usr/share/oem -> /oem), fips.so + a shipped fipsmodule.cnf, openssl.cnf a
#         regular file, sshd_config with the Include near the end + 50-flatcar-sshd.conf.
# lts:    OEM at /usr/share/oem, no shipped fipsmodule.cnf, openssl.cnf a symlink into /usr,
#         sshd_config a symlink into /usr without Include, 50-flatcar-sshd.conf with chacha20.
set -euo pipefail

variant=$1 root=$2 fips_so=$3 pubkey=$4 oem=$5
files=$(cd "$(dirname "$0")" && pwd)/files

# --- disks: ROOT, OEM; /usr read-only at runtime ----------------------------------------------
if [ "$variant" = stable ]; then oem_mount=/oem; else oem_mount=/usr/share/oem; fi
mkdir -p "$root$oem_mount"
if [ "$variant" = stable ]; then ln -sfn /oem "$root/usr/share/oem"; fi
cat > "$root/etc/fstab" <<EOF
LABEL=ROOT / ext4 defaults 0 1
LABEL=OEM $oem_mount ext4 defaults 0 2
EOF
# /usr read-only once booted (a bind mount made by a unit: an fstab line would be mounted by the
# initramfs from its own /usr)
mkdir -p "$root/etc/systemd/system/local-fs.target.wants"
install -m 0644 "$files/usr-readonly.service" "$root/etc/systemd/system/usr-readonly.service"
ln -sfn /etc/systemd/system/usr-readonly.service \
    "$root/etc/systemd/system/local-fs.target.wants/usr-readonly.service"
mkdir -p "$oem"
install -m 0644 "$files/oem-grub.cfg" "$oem/grub.cfg"

# --- OpenSSL: fips.so where Flatcar has it -----------------------------------------------------
modules_dir=$(ls -d "$root"/usr/lib/x86_64-linux-gnu/ossl-modules)
install -D -m 0755 "$fips_so" "$root/usr/lib64/ossl-modules/fips.so"
ln -sfn /usr/lib64/ossl-modules/fips.so "$modules_dir/fips.so"
if [ "$variant" = stable ]; then
    # generated at image build, as Flatcar does
    OPENSSL_CONF=/dev/null openssl fipsinstall -module "$root/usr/lib64/ossl-modules/fips.so" \
        -out "$root/etc/ssl/fipsmodule.cnf" >/dev/null 2>&1
else
    mkdir -p "$root/usr/share/ssl"
    mv "$root/etc/ssl/openssl.cnf" "$root/usr/share/ssl/openssl.cnf"
    ln -s ../../usr/share/ssl/openssl.cnf "$root/etc/ssl/openssl.cnf"
fi

# --- fips.so on a dm-verity verified file system, as Flatcar's /usr ---------------------------
# Flatcar verifies all of /usr with dm-verity (the root hash is on the signed kernel command
# line). The testbed keeps Debian's /usr on the root file system and verifies the file system
# that holds fips.so: an ext4 image of /usr/lib64/ossl-modules with its hash tree, opened with
# veritysetup and mounted read-only over that directory at boot (testbed-usr-verity.service),
# before the update guard and sshd. Formatting needs no device-mapper; opening happens in the
# guest.
verity=$root/var/lib/testbed-verity
install -d -m 0700 "$verity"
staging=$(mktemp -d)
cp -a "$root/usr/lib64/ossl-modules/." "$staging/"
truncate -s 16M "$verity/ossl-modules.img"
mkfs.ext4 -q -b 4096 -L OSSL -d "$staging" "$verity/ossl-modules.img"  # dm-verity: 4096-byte blocks
rm -rf "$staging"
roothash=$(veritysetup format "$verity/ossl-modules.img" "$verity/ossl-modules.hash" |
           awk '/^Root hash:/ {print $3}')
[ -n "$roothash" ] || { echo "veritysetup format printed no root hash" >&2; exit 1; }
echo "ROOTHASH=$roothash" > "$verity/roothash.env"
mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
install -m 0644 "$files/testbed-usr-verity.service" \
    "$root/etc/systemd/system/testbed-usr-verity.service"
ln -sfn /etc/systemd/system/testbed-usr-verity.service \
    "$root/etc/systemd/system/sysinit.target.wants/testbed-usr-verity.service"

# --- sshd: Flatcar's layout, socket-activated, one sshd per connection ------------------------
mkdir -p "$root/etc/systemd/system/sockets.target.wants" \
         "$root/etc/systemd/system/multi-user.target.wants"
install -m 0644 "$files/sshd.socket" "$root/etc/systemd/system/sshd.socket"
install -m 0644 "$files/sshd@.service" "$root/etc/systemd/system/sshd@.service"
install -m 0644 "$files/tmpfiles-sshd.conf" "$root/etc/tmpfiles.d/sshd.conf"
ln -sfn /etc/systemd/system/sshd.socket "$root/etc/systemd/system/sockets.target.wants/sshd.socket"
rm -f "$root/etc/systemd/system/sockets.target.wants/ssh.socket" \
      "$root/etc/systemd/system/multi-user.target.wants/ssh.service" \
      "$root/etc/systemd/system/sshd.service"
rm -f "$root"/etc/ssh/sshd_config.d/*
if [ "$variant" = stable ]; then
    install -m 0600 "$files/sshd_config" "$root/etc/ssh/sshd_config"
    install -m 0644 "$files/50-flatcar-sshd.conf" "$root/etc/ssh/sshd_config.d/50-flatcar-sshd.conf"
else
    mkdir -p "$root/usr/share/ssh"
    # the legacy /usr/share/ssh/sshd_config: Flatcar's settings and crypto lists inline, no Include
    { grep -v '^Include' "$files/sshd_config"; grep -v -i '^HostkeyAlgorithms' \
        "$files/50-flatcar-sshd.conf"; cat "$files/lts-crypto.conf"; } \
        > "$root/usr/share/ssh/sshd_config"
    rm -f "$root/etc/ssh/sshd_config"
    ln -s ../../usr/share/ssh/sshd_config "$root/etc/ssh/sshd_config"
    cat "$files/50-flatcar-sshd.conf" "$files/lts-crypto.conf" \
        > "$root/etc/ssh/sshd_config.d/50-flatcar-sshd.conf"
fi

# --- users: core with passwordless sudo, the test key for core and root ------------------------
chroot "$root" useradd -m -s /bin/bash -G sudo core
echo 'core ALL=(ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/core"
chmod 0440 "$root/etc/sudoers.d/core"
for home in "$root/home/core" "$root/root"; do
    install -d -m 0700 "$home/.ssh"
    install -m 0600 "$pubkey" "$home/.ssh/authorized_keys"
done
chroot "$root" chown -R core:core /home/core/.ssh

# --- network, name, machine id -----------------------------------------------------------------
install -m 0644 "$files/10-dhcp.network" "$root/etc/systemd/network/10-dhcp.network"
ln -sfn /lib/systemd/system/systemd-networkd.service \
    "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
echo flatcar-testbed > "$root/etc/hostname"
# os-release says Flatcar, with a release of the line whose layout the variant reproduces
# (stable 4593.2.x; the lts variant has LTS-2023's OEM and OpenSSL layout): what the fips_mode
# role's preflight reads.
if [ "$variant" = stable ]; then release=4593.2.0; else release=3510.3.8; fi
rm -f "$root/etc/os-release"
cat > "$root/etc/os-release" <<EOF
NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=$release
VERSION_ID=$release
SYSEXT_LEVEL=1.0
BUILD_ID=testbed
PRETTY_NAME="Flatcar Container Linux by Kinvolk $release (Flatcar-like testbed on Debian 12)"
HOME_URL="https://flatcar.org/"
EOF
: > "$root/etc/machine-id"

# --- LUKS: one argon2id volume (as formatted on a non-FIPS host) and one pbkdf2 ---------------
# (formatted here by the build machine's cryptsetup: a non-FIPS host)
install -d -m 0700 "$root/var/lib/luks" "$root/etc/luks"
for kind in argon2id pbkdf2; do
    printf 'testbed-%s' "$kind" > "$root/etc/luks/$kind.key"
    chmod 0600 "$root/etc/luks/$kind.key"
    truncate -s 32M "$root/var/lib/luks/$kind.img"
    if [ "$kind" = argon2id ]; then
        cost=(--pbkdf argon2id --pbkdf-memory 65536 --pbkdf-parallel 1 --pbkdf-force-iterations 4)
    else
        cost=(--pbkdf pbkdf2 --pbkdf-force-iterations 100000)
    fi
    cryptsetup --batch-mode luksFormat --type luks2 "${cost[@]}" \
        --key-file "$root/etc/luks/$kind.key" "$root/var/lib/luks/$kind.img"
done

# --- cryptsetup built in FIPS mode, as Flatcar's ----------------------------------------------
# Debian's cryptsetup-bin is not a FIPS build. The testbed's /usr/sbin/cryptsetup is cryptsetup
# 2.7+ built with --enable-fips and the OpenSSL backend (tests/fips/build-cryptsetup-fips.sh),
# with a private OpenSSL 3.5 libcrypto (cryptsetup takes argon2 from OpenSSL 3.2+ only, which is
# what refuses argon2 in FIPS mode) that reads /etc/ssl/openssl.cnf and loads the same fips.so.
# Debian's veritysetup and libcryptsetup stay (the verified /usr/lib64/ossl-modules uses them).
cs_build=${FLATCAR_FIPS_CRYPTSETUP_DIR:?the FIPS cryptsetup build (make cryptsetup-fips)}
cs_private=/usr/lib/flatcar-fips-cryptsetup
install -d "$root$cs_private/lib"
cp -a "$cs_build/root$cs_private/lib/." "$root$cs_private/lib/"
# the private libcrypto looks for providers in its own modules directory: the same fips.so
ln -sfn /usr/lib64/ossl-modules "$root$cs_private/lib/ossl-modules"
install -m 0755 "$cs_build/root/usr/sbin/cryptsetup" "$root/usr/sbin/cryptsetup"
install -m 0644 "$cs_build/BUILDINFO" "$root$cs_private/BUILDINFO"
chroot "$root" /usr/sbin/cryptsetup --version | grep -q FIPS ||
    { echo "customize.sh: the installed cryptsetup does not run or is not a FIPS build" >&2; exit 1; }

# --- record what this is -----------------------------------------------------------------------
cat > "$root/etc/flatcar-testbed" <<EOF
variant=$variant
python=none (bootstrapped by flatcar.fips.python_bootstrap)
fips_so=/usr/lib64/ossl-modules/fips.so
cryptsetup=$(chroot "$root" /usr/sbin/cryptsetup --version) (FIPS build, $cs_private/BUILDINFO)
EOF

# --- no Python, as on Flatcar; system extensions merged at boot, as on Flatcar -----------------
if find "$root" -xdev \( -name 'python3*' -o -name 'libpython3*' \) \( -type f -o -type l \) \
        -print -quit | grep -q .; then
    echo "customize.sh: the root file system has Python in it" >&2; exit 1
fi
[ -e "$root/lib/systemd/system/systemd-sysext.service" ] ||
    { echo "customize.sh: no systemd-sysext.service in the image" >&2; exit 1; }
mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
ln -sfn /lib/systemd/system/systemd-sysext.service \
    "$root/etc/systemd/system/sysinit.target.wants/systemd-sysext.service"
