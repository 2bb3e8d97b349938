#!/usr/bin/env bash
# What a rollout may change on a node, read-only: the boot, the kernel's FIPS flag, the
# workload, and every file under /etc, /opt, the OEM partition and the collection's directories
# in /var (mode, owner, size, time, link target), with hashes of the files FIPS mode and the
# bootstrap write. Two equal snapshots: the node was not touched in between.
set -uo pipefail
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
echo "fips_enabled=$(cat /proc/sys/crypto/fips_enabled)"
echo "workload=$(systemctl is-active fips-demo-workload.service)"
find /etc /opt /usr/share/oem /oem /var/lib/flatcar-fips /var/cache/flatcar-fips -xdev \( -type f -o -type l \) \
    -printf '%p %m %u:%g %s %T@ %l\n' 2>/dev/null | sort
find /etc/ssh /etc/ssl /etc/extensions /etc/systemd/system /usr/share/oem /oem -xdev -type f \
    -exec sha256sum {} + 2>/dev/null | sort
