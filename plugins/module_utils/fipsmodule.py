# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FIPS provider and its module configuration: find ``openssl`` and ``fips.so``, and decide
whether ``fipsmodule.cnf`` is kept, generated or regenerated (one job of ``openssl_fips``; the
order of its writes is ``openssl_writer``'s).

Standard library only: runs on the managed host.
"""

import os

from ansible_collections.flatcar.fips.plugins.module_utils import files, openssl_cli, openssl_cnf
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure
from ansible_collections.flatcar.fips.plugins.module_utils.fips_guard import GENERATED_HEADER


def find_provider(module, openssl=None, fips_so=None):
    """``(openssl, version, version_text, fips_so)``, or a Failure saying what is missing."""
    found = openssl_cli.find(module, openssl)
    if not found:
        raise Failure("The openssl program was not found%s. Install OpenSSL 3 or set the "
                      "openssl option." % (" at %s" % openssl if openssl else " on PATH"))
    try:
        version, text = openssl_cli.version(module, found)
        if not version or int(version.split(".")[0]) < 3:
            raise Failure("%s is not OpenSSL 3 (%s): the FIPS provider needs OpenSSL 3.0 or "
                          "newer." % (found, text))
        fips_so = fips_so or os.path.join(openssl_cli.modules_dir(module, found), "fips.so")
    except openssl_cli.OpenSSLRunError as e:
        raise Failure(str(e)) from e
    if os.path.isdir(fips_so):
        raise Failure("module %s is a directory, not the fips.so provider file." % fips_so)
    if not os.path.exists(fips_so):
        raise Failure("The FIPS provider %s does not exist: %s was built without the FIPS "
                      "provider (Configure enable-fips), or it lives elsewhere (set module). "
                      "Flatcar ships /usr/lib64/ossl-modules/fips.so on every channel."
                      % (fips_so, text))
    return found, version, text, fips_so


def decide(path, text, verified, verify_output, fips_so, regenerate):
    """What happens to the ``fipsmodule.cnf`` at ``path`` (``text``: its content, None when
    missing): ``kept`` when it verifies against ``fips_so``, ``generated`` when missing,
    ``regenerated`` when this collection wrote it (or ``regenerate``); a shipped file that does
    not verify is refused, never overwritten on a guess."""
    if verified:
        return "kept"
    if text is None:
        return "generated"
    if text.startswith(openssl_cnf.GENERATED_MARKER) or regenerate:
        return "regenerated"
    raise Failure(
        "%s does not verify against %s (openssl fipsinstall -verify: %s). This module did not "
        "generate that file (Flatcar ships it with the image): either fips.so was modified, or "
        "the OS was updated and the host has not yet rebooted into the new /usr. Nothing was "
        "changed. Investigate; if fips.so is genuine, run again with regenerate_fipsmodule=true."
        % (path, fips_so, _short(verify_output)), path=path)


def generate(module, openssl, fips_so, path, scratch_dir):
    """A new ``fipsmodule.cnf`` text for ``fips_so`` (``openssl fipsinstall``, which runs the
    provider's self-tests), with the header that marks it as this collection's."""
    raw = os.path.join(scratch_dir, "fipsmodule.cnf.raw")
    try:
        openssl_cli.fipsinstall(module, openssl, fips_so, raw)
    except openssl_cli.OpenSSLRunError as e:
        raise Failure("Cannot generate %s: %s. Nothing was changed." % (path, e)) from e
    return GENERATED_HEADER + files.read_text(raw)


def _short(text, n=3):
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"
