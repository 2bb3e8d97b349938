#!/usr/bin/env bash
# Apply an Ignition config to a testbed root with real Ignition (Debian's ignition package), as
# Flatcar's initramfs does on first boot against /sysroot: fetch-offline, kargs (the OEM grub.cfg,
# through a Flatcar-like ignition-kargs-helper), files. Called by build-image.sh when
# TESTBED_IGNITION names a config; the image then boots straight into what the config says.
#
#   apply-ignition.sh CONFIG ROOT OEM_GRUB_CFG
set -euo pipefail
config=${1:?config} root=${2:?root} oem_grub_cfg=${3:?OEM grub.cfg}
here=$(cd "$(dirname "$0")" && pwd)
ignition=/usr/lib/dracut/modules.d/30ignition/ignition
[ -x "$ignition" ] || { echo "apply-ignition: $ignition missing (apt-get install ignition)" >&2; exit 1; }
command -v setfiles >/dev/null ||
    { echo "apply-ignition: setfiles missing (apt-get install policycoreutils)" >&2; exit 1; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

# Flatcar's root has an SELinux configuration, and Debian's Ignition relabels what it writes
# (setfiles): give the root the same (permissive, an empty file_contexts).
mkdir -p "$root/etc/selinux/mcs/contexts/files"
[ -e "$root/etc/selinux/config" ] || printf 'SELINUX=permissive\nSELINUXTYPE=mcs\n' > "$root/etc/selinux/config"
[ -e "$root/etc/selinux/mcs/contexts/files/file_contexts" ] || : > "$root/etc/selinux/mcs/contexts/files/file_contexts"

# the kargs helper, found on PATH as ignition-kargs-helper
mkdir -p "$run/bin"
install -m 0755 "$here/files/ignition-kargs-helper" "$run/bin/ignition-kargs-helper"

export IGNITION_CONFIG_FILE=$config
common=(-platform file -config-cache "$run/ignition.json" -state-file "$run/state" -log-to-stdout)
stage() {
    local name=$1; shift
    if ! "$@" > "$run/$name.log" 2>&1; then
        echo "apply-ignition: the $name stage failed:" >&2; tail -n 30 "$run/$name.log" >&2; exit 1
    fi
    grep -E 'ignition-kargs-helper|writing file|writing unit|enabling unit|CRITICAL|ERROR' \
        "$run/$name.log" | sed "s/^/[ignition $name] /" >&2 || true
}
stage fetch-offline "$ignition" "${common[@]}" -stage fetch-offline -neednet "$run/neednet"
stage kargs env PATH="$run/bin:$PATH" KARGS_OEM_GRUB_CFG="$oem_grub_cfg" \
    "$ignition" "${common[@]}" -stage kargs -root "$root"
stage files "$ignition" "${common[@]}" -stage files -root "$root"

# Units Ignition enables are listed in a preset file, applied by systemd at first boot (a fresh
# machine-id): apply those presets now with systemctl itself, as that boot would.
preset=$root/etc/systemd/system-preset/20-ignition.preset
if [ -f "$preset" ]; then
    mapfile -t units < <(sed -n 's/^enable //p' "$preset")
    if [ "${#units[@]}" -gt 0 ]; then
        systemctl --root="$root" preset "${units[@]}" >&2
    fi
fi
echo "apply-ignition: applied $(basename "$config")" >&2
