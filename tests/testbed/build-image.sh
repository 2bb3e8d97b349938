#!/usr/bin/env bash
# Build the Flatcar-like VM disk image (see tests/testbed/README.md).
#
#   build-image.sh VARIANT OUT_DIR FIPS_SO
#   TESTBED_IGNITION=CONFIG build-image.sh ...   the same, provisioned by real Ignition with CONFIG
#
# VARIANT is stable or lts. Writes OUT_DIR/disk.img (raw, GPT) and OUT_DIR/id_ecdsa (the SSH key
# that logs in as core and root). Runs as root; uses no loop devices: each filesystem is built as
# a file and copied into its partition.
set -euo pipefail

variant=${1:?variant: stable or lts}
out=${2:?output directory}
fips_so=${3:?path to fips.so}
here=$(cd "$(dirname "$0")" && pwd)
case $variant in stable|lts) ;; *) echo "unknown variant $variant" >&2; exit 2 ;; esac

step() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/flatcar-testbed.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$out"

# The Debian base (mmdebstrap, minutes) is cached as a tarball next to the images, keyed by
# the package list (packages.txt: no Python, as on Flatcar); everything Flatcar-specific is
# applied on top of a fresh copy each build.
base=$(bash "$here/base.sh" "$(dirname "$out")" "$(cat "$here/packages.txt")")
mkdir -p "$root"
tar --numeric-owner -xpf "$base" -C "$root"

step "making it look like Flatcar ($variant)"
ssh-keygen -q -t ecdsa -N '' -C flatcar-testbed -f "$work/id_ecdsa"
bash "$here/customize.sh" "$variant" "$root" "$fips_so" "$work/id_ecdsa.pub" "$work/oem"

# TESTBED_IGNITION: a config applied by real Ignition to this root and OEM grub.cfg, as Flatcar's
# initramfs does at first boot (apply-ignition.sh); the image then boots into what it says.
if [ -n "${TESTBED_IGNITION:-}" ]; then
    step "applying $(basename "$TESTBED_IGNITION") with real Ignition (fetch-offline, kargs, files)"
    bash "$here/apply-ignition.sh" "$TESTBED_IGNITION" "$root" "$work/oem/grub.cfg"
fi

newest() { printf '%s\n' "$@" | sort -V | tail -n 1; }
kernel=$(newest "$root"/boot/vmlinuz-*)
initrd=$(newest "$root"/boot/initrd.img-*)

step "assembling the GPT disk (EFI-SYSTEM, BIOS-BOOT, OEM, ROOT)"
disk=$work/disk.img
root_mb=$(( $(du -sm "$root" | cut -f1) + 600 ))
truncate -s $(( 128 + 2 + 128 + root_mb + 4 ))M "$disk"
sgdisk -Z -o \
    -n 1:2048:+128M -t 1:EF00 -c 1:EFI-SYSTEM \
    -n 2:0:+2M -t 2:EF02 -c 2:BIOS-BOOT \
    -n 6:0:+128M -t 6:8300 -c 6:OEM \
    -n 9:0:0 -t 9:8300 -c 9:ROOT "$disk" >/dev/null

part() {  # start and size (sectors) of partition $1
    partx -g -o START,SECTORS -n "$1" "$disk"
}
put() {  # copy filesystem image $2 into partition $1
    local start
    read -r start _ < <(part "$1")
    dd if="$2" of="$disk" bs=1M seek=$((start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
}

# ESP: GRUB (main config inside the EFI partition: the guest cannot edit it) + kernel.
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can fail and
# panic the boot ("IO-APIC + timer doesn't work!"); it is a testbed-only argument, kept out of
# the OEM grub.cfg that the collection edits and the tests read.
read -r _ esp_sectors < <(part 1)
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$work/BOOTX64.EFI" part_gpt fat ext2 normal search \
    search_label search_fs_uuid linux configfile echo test serial terminal all_video efi_gop \
    boot cat ls reboot halt
cat > "$work/grub.cfg" <<'GRUB'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set linux_root="root=LABEL=ROOT"
set linux_console="console=ttyS0,115200n8"
set linux_append=""
search --no-floppy --set esp --label EFI-SYSTEM
search --no-floppy --set oem --label OEM
if [ -n "$oem" -a -f "($oem)/grub.cfg" ]; then
    source "($oem)/grub.cfg"
fi
menuentry "Flatcar-like (A)" {
    linux ($esp)/flatcar/vmlinuz-a rw $linux_root $linux_console $linux_append no_timer_check
    initrd ($esp)/flatcar/initrd-a
}
GRUB
mkfs.vfat -C -n EFI-SYSTEM "$work/esp.img" $((esp_sectors / 2)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/flatcar
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$work/esp.img" "$work/grub.cfg" ::/EFI/BOOT/grub.cfg
mcopy -i "$work/esp.img" "$kernel" ::/flatcar/vmlinuz-a
mcopy -i "$work/esp.img" "$initrd" ::/flatcar/initrd-a
put 1 "$work/esp.img"

# OEM: grub.cfg as Flatcar's qemu image ships it
read -r _ oem_sectors < <(part 6)
mkfs.ext4 -q -F -L OEM -d "$work/oem" "$work/oem.img" $((oem_sectors / 2))k
put 6 "$work/oem.img"

# ROOT
read -r _ root_sectors < <(part 9)
mkfs.ext4 -q -F -L ROOT -d "$root" "$work/root.img" $((root_sectors / 2))k
put 9 "$work/root.img"

mv "$disk" "$out/disk.img.tmp"
install -m 0600 "$work/id_ecdsa" "$out/id_ecdsa"
install -m 0644 "$work/id_ecdsa.pub" "$out/id_ecdsa.pub"
mv "$out/disk.img.tmp" "$out/disk.img"
step "done: $out/disk.img ($(du -h --apparent-size "$out/disk.img" | cut -f1), $(du -h "$out/disk.img" | cut -f1) on disk)"
