# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Generated from data/fipsmodule-refresh.sh by tools/guard_script.py: edit the script, then run
# `python3 tools/guard_script.py` (the unit tests fail while the two differ).
"""The OpenSSL update guard script, byte for byte as data/fipsmodule-refresh.sh holds it (with
Flatcar's paths in its settings; ``fips_guard.script`` writes a host's values in their place)."""

TEXT = r'''#!/bin/sh
# The OpenSSL update guard of flatcar.fips, installed as /etc/flatcar-fips/fipsmodule-refresh by
# flatcar.fips.openssl_fips (or by the collection's Ignition config) and run at boot, before sshd,
# by flatcar-fips-fipsmodule.service. It keeps $CNF, which the collection generated because the
# image did not ship a usable one, in step with $MODULE: after an OS update ships a new fips.so,
# the old module-mac no longer matches and the FIPS provider would fail its integrity check in
# every OpenSSL program.
#
# Regenerating accepts the fips.so that is there as genuine. That is only safe where a new
# fips.so can arrive only with a signed update: on Flatcar, /usr is read-only and verified by
# dm-verity. So the file's device is checked first (dm-verity, status V); on any other storage
# the guard refuses unless the operator accepted that (update_guard_accept_unverified), logs why
# (stderr, in the journal) and records it in $STATUS for flatcar.fips.fips_facts.
#   fipsmodule-refresh --check   prints the storage verdict and exits (0 when verified)
#
# The collection's data/fipsmodule-refresh.sh. The settings below are Flatcar's paths; the
# installer writes this host's values in their place (module_utils/fips_guard.py).
set -u
OPENSSL=/usr/bin/openssl
MODULE=/usr/lib64/ossl-modules/fips.so
CNF=/etc/ssl/fipsmodule.cnf
STATUS=/run/flatcar-fips/fipsmodule-refresh.status
ACCEPT_UNVERIFIED=0
# An empty configuration: the live one cannot load until this script has done its job.
OPENSSL_CONF=/dev/null
export OPENSSL_CONF
PATH=/usr/sbin:/usr/bin:/sbin:/bin

record() {  # result reason
    mkdir -p "$(dirname "$STATUS")" 2>/dev/null && \
        printf 'result=%s\nreason=%s\ntime=%s\n' "$1" "$2" \
            "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$STATUS" 2>/dev/null
    return 0
}

# The mount serving path $1 among the first $2 - 1 lines of mountinfo (all when $2 is empty):
# prints "LINE MAJ:MIN ROOT MOUNTPOINT FSTYPE" (the last mount whose mount point is a prefix).
serving_mount() {
    awk -v p="$1" -v limit="${2:-0}" '
        limit && NR >= limit { exit }
        {
            split($0, halves, " - "); split(halves[1], f, " "); split(halves[2], r, " ")
            mp = f[5]; gsub(/\\040/, " ", mp)
            if (p == mp || index(p, (mp == "/" ? "/" : mp "/")) == 1)
                out = NR " " f[3] " " f[4] " " mp " " r[1]
        }
        END { if (out != "") print out }' /proc/self/mountinfo
}

# Prints why; returns 0 when device $1 (MAJ:MIN) is dm-verity and verified; sets $name.
dm_verdict() {
    if [ ! -r "/sys/dev/block/$1/dm/name" ]; then
        echo "$real is on block device $1, which is not a device-mapper device:" \
            "nothing verifies it against a signed hash"
        return 1
    fi
    name=$(cat "/sys/dev/block/$1/dm/name")
    target="" state=""
    if command -v dmsetup >/dev/null 2>&1 && out=$(dmsetup status "$name" 2>/dev/null); then
        read -r _start _length target state _rest <<EOF_STATUS
$out
EOF_STATUS
    elif command -v veritysetup >/dev/null 2>&1 &&
            out=$(veritysetup status "$name" 2>/dev/null); then
        case $out in *"type:"*VERITY*) target=verity ;; *) target=other ;; esac
        case $out in *"status:"*" verified"*) state=V ;; *) state=C ;; esac
    else
        echo "$real is on /dev/mapper/$name, but neither dmsetup nor veritysetup" \
            "could say what it is"
        return 2
    fi
    if [ "$target" != verity ]; then
        echo "$real is on /dev/mapper/$name, a $target device, not dm-verity"
        return 1
    fi
    if [ "$state" != V ]; then
        echo "$real is on /dev/mapper/$name, and dm-verity reports corruption there"
        return 1
    fi
    echo "$real is on /dev/mapper/$name, verified by dm-verity"
    return 0
}

# Prints why; returns 0 when $MODULE is served by a verified dm-verity device: directly, or from
# under an overlay (systemd-sysext merges extensions over /usr on Flatcar) with the same bytes as
# the file on the verified device below it.
verified_storage() {
    real=$(readlink -f "$MODULE") || { echo "$MODULE cannot be resolved"; return 2; }
    majmin=$(stat -L -c '%Hd:%Ld' "$real" 2>/dev/null) || { echo "stat $real failed"; return 2; }
    read -r _line omajmin _root mpoint fstype <<EOF_MOUNT
$(serving_mount "$real")
EOF_MOUNT
    if [ "${fstype:-}" != overlay ]; then
        dm_verdict "$majmin"
        return $?
    fi
    # the same overlay may be listed more than once (mount propagation): look below its first
    first=$(awk -v m="$omajmin" '$3 == m { print NR; exit }' /proc/self/mountinfo)
    read -r _line lmajmin lroot lpoint _lfstype <<EOF_LOWER
$(serving_mount "$real" "$first")
EOF_LOWER
    if [ -z "${lmajmin:-}" ]; then
        echo "$real is on an overlay on $mpoint with no mount below it"
        return 1
    fi
    why=$(dm_verdict "$lmajmin")
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "$why (under the overlay on $mpoint)"
        return "$rc"
    fi
    name=$(cat "/sys/dev/block/$lmajmin/dm/name")
    rel=${real#"${lpoint%/}"}
    mkdir -p /run/flatcar-fips
    dir=$(mktemp -d /run/flatcar-fips/usr-check.XXXXXX) || { echo "mktemp failed"; return 2; }
    # shellcheck disable=SC2016 # $1..$3 are the inner shell's arguments
    sum=$(unshare --mount --propagation private sh -c \
          'mount -o ro "$1" "$2" && sha256sum "$2$3"' sh "/dev/mapper/$name" "$dir" \
          "${lroot%/}$rel" 2>/dev/null | cut -d' ' -f1)
    rmdir "$dir"
    if [ -z "$sum" ]; then
        echo "$real is under the overlay on $mpoint; it could not be read on /dev/mapper/$name"
        return 2
    fi
    if [ "$sum" != "$(sha256sum "$real" | cut -d' ' -f1)" ]; then
        echo "$real under the overlay on $mpoint is not the file on /dev/mapper/$name" \
            "(a system extension provides it), so dm-verity does not vouch for it"
        return 1
    fi
    echo "$real (under the overlay on $mpoint) is byte for byte the one on /dev/mapper/$name," \
        "verified by dm-verity"
    return 0
}

if [ "${1:-}" = --check ]; then
    verified_storage
    exit $?
fi
[ -f "$MODULE" ] || exit 0
if "$OPENSSL" fipsinstall -module "$MODULE" -in "$CNF" -verify >/dev/null 2>&1; then
    record verified "$CNF verifies against $MODULE"
    exit 0
fi
if why=$(verified_storage); then
    :
elif [ "$ACCEPT_UNVERIFIED" = 1 ]; then
    echo "fipsmodule-refresh: $why; regenerating anyway (update_guard_accept_unverified)" >&2
else
    msg="REFUSED to regenerate $CNF for a $MODULE it does not verify against: $why."
    msg="$msg A fips.so that did not come with a verified /usr may have been tampered with;"
    msg="$msg until $CNF is regenerated (flatcar.fips.openssl_fips, or"
    msg="$msg update_guard_accept_unverified), the OpenSSL FIPS provider fails its integrity check"
    echo "fipsmodule-refresh: $msg" >&2
    record refused "$msg"
    exit 1
fi
echo "fipsmodule-refresh: $CNF does not verify against $MODULE; regenerating" >&2
tmp=$(mktemp "$CNF.XXXXXX") || { record failed "mktemp failed"; exit 1; }
trap 'rm -f "$tmp" "$tmp.raw"' EXIT
"$OPENSSL" fipsinstall -module "$MODULE" -out "$tmp.raw" >/dev/null ||
    { record failed "fipsinstall failed"; exit 1; }
{ cat <<'HEADER'
# Generated by flatcar.fips.openssl_fips with 'openssl fipsinstall' for the fips.so on this
# host; kept in step with it by flatcar-fips-fipsmodule.service. Do not copy to other hosts.
HEADER
cat "$tmp.raw"; } > "$tmp" || { record failed "cannot write $tmp"; exit 1; }
chmod 0644 "$tmp"
"$OPENSSL" fipsinstall -module "$MODULE" -in "$tmp" -verify >/dev/null 2>&1 ||
    { record failed "the new file does not verify"; exit 1; }
mv -f "$tmp" "$CNF"
record regenerated "$why"
echo "fipsmodule-refresh: regenerated $CNF ($why)" >&2
'''
