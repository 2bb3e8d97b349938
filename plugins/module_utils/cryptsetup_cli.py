# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask cryptsetup itself whether it runs in FIPS mode (measured, never inferred).

* ``cryptsetup --version`` prints ``cryptsetup 2.7.5 flags: FIPS UDEV BLKID KEYRING ...`` (2.5
  and newer): without ``FIPS`` among the flags the build has no FIPS mode at all (Debian's).
* A FIPS build decides at run time (2.6 and newer: OpenSSL's ``fips=yes`` default property;
  before: the kernel flag and ``/etc/system-fips``). ``--verbose`` then logs ``Running in FIPS
  mode.`` and ``--debug`` logs ``Crypto backend (OpenSSL 3.5.7 ... [fips]...) initialized``.
  Both come from the crypto initialisation every command runs, so ``isLuks`` on an empty scratch
  file (no device is touched, nothing is written) is enough: one short process.

Shared by ``fips_facts`` and ``luks_pbkdf``. Standard library only: runs on the managed host.
"""

import os
import re
import tempfile

FIPS_LINE = "Running in FIPS mode."
_VERSION = re.compile(r"^cryptsetup (\d+\.\d+(?:\.\d+)?)(?:\s+flags:\s*(.*))?\s*$", re.M)
_BACKEND = re.compile(r"Crypto backend \((.*)\) initialized")


def parse_version(text):
    """``(version, flags)`` from ``cryptsetup --version``; flags is None when not printed."""
    m = _VERSION.search(text or "")
    if not m:
        return None, None
    return m.group(1), (m.group(2).split() if m.group(2) is not None else None)


def parse_debug(text):
    """``(fips_mode, backend)`` from ``--debug --verbose`` output: True/False, or None when the
    crypto backend was never initialised (the output says nothing either way)."""
    m = _BACKEND.search(text or "")
    backend = m.group(1).strip() if m else None
    if FIPS_LINE in (text or "") or (backend and "[fips]" in backend):
        return True, backend
    if backend:
        return False, backend
    return None, None


def _first_line(text):
    lines = [line.strip() for line in (text or "").splitlines()
             if line.strip() and not line.startswith("#")]
    return lines[0] if lines else "(no output)"


def mode(module, tool, scratch_dir=None):
    """What cryptsetup at ``tool`` says about itself: ``version``, ``flags``, ``fips_capable``,
    ``fips_mode`` (True, False, None), ``backend`` (its crypto backend line), ``evidence``
    (the line that decided) and ``reason`` (why fips_mode is None)."""
    facts = dict(version=None, flags=None, fips_capable=None, fips_mode=None, backend=None,
                 evidence=None, reason=None)
    rc, out, err = module.run_command([tool, "--version"])
    version, flags = parse_version(out)
    if rc != 0 or version is None:
        facts["reason"] = "'%s --version' failed (rc %s): %s" % (tool, rc, _first_line(err or out))
        return facts
    facts.update(version=version, flags=flags,
                 fips_capable=None if flags is None else "FIPS" in flags)
    if facts["fips_capable"] is False:
        facts.update(fips_mode=False,
                     evidence="cryptsetup %s is built without FIPS support (flags: %s): it "
                              "never runs in FIPS mode" % (version, " ".join(flags) or "none"))
        return facts
    fd, scratch = tempfile.mkstemp(prefix="cryptsetup-mode-", dir=scratch_dir)
    os.close(fd)
    try:
        rc, out, err = module.run_command([tool, "--debug", "--verbose", "isLuks", scratch])
    finally:
        os.unlink(scratch)
    fips, backend = parse_debug((out or "") + "\n" + (err or ""))
    facts.update(fips_mode=fips, backend=backend)
    if fips is True:
        facts["evidence"] = ("cryptsetup --verbose: '%s' (crypto backend %s)"
                             % (FIPS_LINE, backend or "not logged"))
    elif fips is False:
        facts["evidence"] = "cryptsetup --debug: crypto backend %s, not [fips]" % backend
    else:
        facts["reason"] = ("cryptsetup %s did not log its crypto backend ('--debug --verbose "
                           "isLuks' on a scratch file, rc %s): %s"
                           % (version, rc, _first_line(err or out)))
    return facts
