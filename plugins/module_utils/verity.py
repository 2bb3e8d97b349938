# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a file on a dm-verity device whose hash tree still verifies (as Flatcar's ``/usr``)?

The update guard may regenerate ``fipsmodule.cnf`` for whatever ``fips.so`` is installed only
because, on Flatcar, a new ``fips.so`` can arrive only in a signed, dm-verity verified ``/usr``.
This module checks that instead of assuming it; the guard script (``openssl_fips``) performs the
same steps in shell at boot:

1. the mount that serves the file: the last mount in ``/proc/self/mountinfo`` whose mount point
   is a prefix of the file's real path;
2. when that mount is an overlay (on Flatcar, ``systemd-sysext`` merges extensions such as
   Docker's over ``/usr``, and every file there then reports the overlay's anonymous device), the
   mount it hides: the verified device must hold the same bytes at the same path (it is mounted
   read-only in a private mount namespace and compared by SHA-256), so a ``fips.so`` brought by
   an extension is not mistaken for the verified one;
3. the device: ``/sys/dev/block/M:m/dm/name``, then ``dmsetup status NAME`` (``0 N verity V``;
   ``C`` when corruption was detected), or ``veritysetup status NAME`` without dmsetup.

Standard library only: runs on the managed host.
"""

import os
import re
import tempfile

from ansible_collections.flatcar.fips.plugins.module_utils import files

SYS_DEV_BLOCK = "/sys/dev/block"
MOUNTINFO = "/proc/self/mountinfo"


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo(path=MOUNTINFO):
    """``[{majmin, root, mountpoint, fstype, source}]`` in mount order."""
    entries = []
    with open(path) as f:
        for line in f:
            left, _sep, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or not tail:
                continue
            entries.append(dict(majmin=fields[2], root=_unescape(fields[3]),
                                mountpoint=_unescape(fields[4]), fstype=tail[0],
                                source=_unescape(tail[1]) if len(tail) > 1 else ""))
    return entries


def serving(entries, path, before=None):
    """Index of the mount that serves ``path`` among ``entries[:before]``, or None."""
    found = None
    for i, e in enumerate(entries[:before] if before is not None else entries):
        mp = e["mountpoint"]
        if path == mp or path.startswith(mp.rstrip("/") + "/"):
            found = i
    return found


def parse_dmsetup_status(out):
    """``(target, verified)`` from ``dmsetup status NAME`` (the first table line)."""
    fields = (out or "").split()
    if len(fields) < 3:
        return None, None
    target = fields[2]
    return target, (fields[3] == "V" if target == "verity" and len(fields) > 3 else None)


def parse_veritysetup_status(out):
    """``(target, verified)`` from ``veritysetup status NAME``."""
    info = {}
    for line in (out or "").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            info[key.strip().lower()] = value.strip().lower()
    if info.get("type") != "verity":
        return info.get("type"), None
    return "verity", info.get("status") == "verified"


def _dm_verdict(path, majmin, run_command, get_bin_path, sys_dev_block):
    """``(status, device, reason)`` for the device ``majmin`` that holds ``path``."""
    try:
        with open(os.path.join(sys_dev_block, majmin, "dm", "name")) as f:
            name = f.read().strip()
    except OSError:
        return "fail", majmin, ("%s is on block device %s, which is not a device-mapper device: "
                                "nothing verifies it against a signed hash" % (path, majmin))
    device = "/dev/mapper/%s" % name
    target = verified = None
    dmsetup = get_bin_path("dmsetup", opt_dirs=["/usr/sbin", "/sbin"])
    veritysetup = get_bin_path("veritysetup", opt_dirs=["/usr/sbin", "/sbin"])
    if dmsetup:
        rc, out, _err = run_command([dmsetup, "status", name])
        if rc == 0:
            target, verified = parse_dmsetup_status(out)
    if target is None and veritysetup:
        rc, out, _err = run_command([veritysetup, "status", name])
        if rc == 0:
            target, verified = parse_veritysetup_status(out)
    if target is None:
        return "unknown", device, ("%s is on %s, but neither dmsetup nor veritysetup could say "
                                   "what it is" % (path, device))
    if target != "verity":
        return "fail", device, "%s is on %s, a %s device, not dm-verity" % (path, device, target)
    if not verified:
        return "fail", device, "%s is on %s, and dm-verity reports corruption there" % (
            path, device)
    return "pass", device, "%s is on %s, verified by dm-verity" % (path, device)


def _device_sha256(device, path, run_command, get_bin_path):
    """SHA-256 of ``path`` on ``device``, mounted read-only in a private mount namespace."""
    unshare = get_bin_path("unshare", opt_dirs=["/usr/bin", "/bin"])
    if not unshare:
        return None, "unshare is not available"
    base = "/run/flatcar-fips" if os.path.isdir("/run") else None
    if base:
        os.makedirs(base, mode=0o700, exist_ok=True)
    mnt = tempfile.mkdtemp(prefix="usr-check.", dir=base)
    try:
        rc, out, err = run_command([unshare, "--mount", "--propagation", "private", "sh", "-c",
                                    'mount -o ro "$1" "$2" && sha256sum "$2$3"', "sh", device,
                                    mnt, path])
    finally:
        os.rmdir(mnt)
    if rc != 0 or not out.split():
        return None, (err or out).strip() or "exit %d" % rc
    return out.split()[0], None


def storage(path, run_command, get_bin_path, sys_dev_block=SYS_DEV_BLOCK,
            mountinfo_path=MOUNTINFO):
    """``{status, device, reason}``: ``pass`` when ``path`` is served by a dm-verity device that
    reports itself verified (directly, or from under an overlay with the same bytes), ``fail``
    when it is not, ``unknown`` when that cannot be told."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        entries = mountinfo(mountinfo_path)
    except OSError as e:
        return dict(status="unknown", device=None,
                    reason="%s cannot be examined: %s" % (path, e.strerror or e))
    top = serving(entries, real)
    if top is None or entries[top]["fstype"] != "overlay":
        majmin = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
        status, device, reason = _dm_verdict(real, majmin, run_command, get_bin_path,
                                             sys_dev_block)
        return dict(status=status, device=device, reason=reason)
    overlay = entries[top]
    # the same overlay may be listed more than once (mount propagation): look below its first
    first = next(i for i, e in enumerate(entries) if e["majmin"] == overlay["majmin"])
    below = serving(entries, real, before=first)
    if below is None:
        return dict(status="fail", device=None, reason="%s is on an overlay on %s with no "
                    "mount below it" % (real, overlay["mountpoint"]))
    lower = entries[below]
    status, device, reason = _dm_verdict(real, lower["majmin"], run_command, get_bin_path,
                                         sys_dev_block)
    if status != "pass":
        return dict(status=status, device=device, reason="%s (under the overlay on %s)" % (
            reason, overlay["mountpoint"]))
    rel = real[len(lower["mountpoint"].rstrip("/")):]
    on_device = lower["root"].rstrip("/") + rel
    digest, why = _device_sha256(device, on_device, run_command, get_bin_path)
    if digest is None:
        return dict(status="unknown", device=device, reason=(
            "%s is under the overlay on %s; %s on %s could not be read to compare: %s" % (
                real, overlay["mountpoint"], on_device, device, why)))
    if digest != files.sha256_file(real):
        return dict(status="fail", device=device, reason=(
            "%s under the overlay on %s is not the file on %s (a system extension provides "
            "it), so dm-verity does not vouch for it" % (real, overlay["mountpoint"], device)))
    return dict(status="pass", device=device, reason=(
        "%s (under the overlay on %s) is byte for byte the one on %s, verified by dm-verity"
        % (real, overlay["mountpoint"], device)))
