# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a file on a dm-verity device whose hash tree still verifies (as Flatcar's ``/usr``)?

The update guard may regenerate ``fipsmodule.cnf`` for whatever ``fips.so`` is installed only
because, on Flatcar, a new ``fips.so`` can arrive only in a signed, dm-verity verified ``/usr``.
This module checks that instead of assuming it; the guard script (``openssl_fips``) performs the
same steps in shell at boot: the file's device (major:minor) -> ``/sys/dev/block/M:m/dm/name``
-> ``dmsetup status NAME`` (``0 N verity V``; ``C`` when corruption was detected), or
``veritysetup status NAME`` when dmsetup is missing.

Standard library only: runs on the managed host.
"""

import os

SYS_DEV_BLOCK = "/sys/dev/block"


def _dm_name(path, sys_dev_block):
    st = os.stat(os.path.realpath(path))
    majmin = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    try:
        with open(os.path.join(sys_dev_block, majmin, "dm", "name")) as f:
            return majmin, f.read().strip()
    except OSError:
        return majmin, None


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


def storage(path, run_command, get_bin_path, sys_dev_block=SYS_DEV_BLOCK):
    """``{status, device, reason}``: ``pass`` when ``path`` lives on a dm-verity device that
    reports itself verified, ``fail`` when it does not (not device-mapper, another target,
    corruption detected), ``unknown`` when that cannot be told."""
    try:
        majmin, name = _dm_name(path, sys_dev_block)
    except OSError as e:
        return dict(status="unknown", device=None,
                    reason="%s cannot be examined: %s" % (path, e.strerror or e))
    if name is None:
        return dict(status="fail", device=majmin, reason=(
            "%s is on block device %s, which is not a device-mapper device: nothing verifies "
            "it against a signed hash" % (path, majmin)))
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
        return dict(status="unknown", device=device, reason=(
            "%s is on %s, but neither dmsetup nor veritysetup could say what it is" % (
                path, device)))
    if target != "verity":
        return dict(status="fail", device=device, reason="%s is on %s, a %s device, not dm-verity"
                    % (path, device, target))
    if not verified:
        return dict(status="fail", device=device, reason=(
            "%s is on %s, and dm-verity reports corruption there" % (path, device)))
    return dict(status="pass", device=device,
                reason="%s is on %s, verified by dm-verity" % (path, device))
