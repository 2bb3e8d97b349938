# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the real ``openssl`` what it does with a configuration: the effective state.

Every call names the configuration it runs under (``OPENSSL_CONF``). ``fipsinstall`` and the
version queries run under an empty configuration, so that a broken live ``openssl.cnf`` (with
``config_diagnostics = 1`` every OpenSSL program fails when the FIPS provider does not load)
cannot stop the very commands that repair it.

Shared by ``openssl_fips`` (validation before install) and ``fips_facts``.
Standard library only: this file runs on the managed host.
"""

import os
import re

EMPTY_CONF = os.devnull
# In FIPS mode only these providers may be active: fips for algorithms, base for encoders and
# decoders. Anything else (default, legacy) makes non-FIPS algorithms fetchable.
ALLOWED_PROVIDERS = ("fips", "base")


class OpenSSLRunError(Exception):
    """``openssl`` failed; the message carries its own output."""


def find(module, given=None):
    """The ``openssl`` program: ``given`` (a module's ``openssl`` option) or the one on
    ``PATH``; None when it is not an executable file."""
    path = given or module.get_bin_path("openssl")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def _run(module, openssl, args, conf, data=None):
    return module.run_command([openssl, *args], environ_update={"OPENSSL_CONF": conf},
                              data=data, binary_data=True)


def _output(out, err):
    text = "\n".join(s.strip() for s in (err, out) if s and s.strip())
    return text or "(no output)"


def _version_output(module, openssl):
    """``openssl version -v -m``: the version line and the modules directory in one process
    (``version`` and ``modules_dir`` run the same command, so fips_facts' shared commands run
    it once)."""
    return _run(module, openssl, ["version", "-v", "-m"], EMPTY_CONF)


def version(module, openssl):
    """``(version, text)``: e.g. ``("3.0.19", "OpenSSL 3.0.19 27 Jan 2026 (...)")``."""
    rc, out, err = _version_output(module, openssl)
    if rc != 0:
        raise OpenSSLRunError("%s version failed: %s" % (openssl, _output(out, err)))
    text = next((line.strip() for line in out.splitlines()
                 if line.strip() and not line.startswith("MODULESDIR:")), "")
    m = re.match(r"OpenSSL\s+(\d+\.\d+\.\d+)", text)
    return (m.group(1) if m else None), text


def modules_dir(module, openssl):
    """The directory OpenSSL loads providers from (``openssl version -m``)."""
    env_dir = os.environ.get("OPENSSL_MODULES")
    if env_dir:
        return env_dir
    rc, out, err = _version_output(module, openssl)
    if rc != 0:
        raise OpenSSLRunError("%s version -m failed: %s" % (openssl, _output(out, err)))
    m = re.search(r'MODULESDIR:\s*"([^"]*)"', out)
    if not m:
        raise OpenSSLRunError("cannot read MODULESDIR from: %s" % out.strip())
    return m.group(1)


def parse_providers(text):
    """Parse ``openssl list -providers`` into ``{id: {name, version, status}}``."""
    providers, current = {}, None
    for line in text.splitlines():
        if not line.strip() or line.strip() == "Providers:":
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent <= 2 and ":" not in stripped:
            current = providers.setdefault(stripped, {})
        elif current is not None and ":" in stripped:
            key, _sep, value = stripped.partition(":")
            current[key.strip()] = value.strip()
    return providers


def list_providers(module, openssl, conf):
    """``(providers, rc, output)`` for ``openssl list -providers`` under ``conf``."""
    rc, out, err = _run(module, openssl, ["list", "-providers"], conf)
    return parse_providers(out if rc == 0 else ""), rc, _output(out, err)


def fips_provider(providers):
    """The FIPS provider's entry when it is listed, else None."""
    for ident, info in providers.items():
        if ident == "fips" or "FIPS" in info.get("name", ""):
            return info
    return None


def digest_works(module, openssl, conf, name):
    """``(works, output)``: does ``openssl dgst -NAME`` work under ``conf``?"""
    # A file to digest, never stdin: run_command leaves stdin inherited when it has no data,
    # and without pipelining that is the pty of Ansible's ssh -tt session, where openssl dgst
    # would wait for input forever; data on a pipe instead breaks it (EPIPE) whenever openssl
    # refuses the digest and exits before reading.
    rc, out, err = _run(module, openssl, ["dgst", "-" + name, os.devnull], conf)
    return rc == 0, _output(out, err)


def check_config(module, openssl, conf):
    """Run the FIPS checks Flatcar's own ``misc.fips`` test runs, under ``conf``.

    Returns a dict: ``loads`` (rc of ``list -providers``), ``provider_active``,
    ``fips_provider_version``, ``providers``, ``sha256_works``, ``md5_refused``, ``errors``.
    """
    providers, rc, output = list_providers(module, openssl, conf)
    fips = fips_provider(providers)
    sha256, sha_out = digest_works(module, openssl, conf, "sha256")
    md5, _md5_out = digest_works(module, openssl, conf, "md5")
    errors = []
    if rc != 0:
        errors.append("openssl list -providers failed: %s" % output)
    elif fips is None:
        errors.append("the fips provider is not loaded (it is silently left out when its "
                      "integrity check fails or OpenSSL cannot find fips.so); providers: %s"
                      % (", ".join(sorted(providers)) or "none"))
    elif fips.get("status") != "active":
        errors.append("the fips provider is listed with status %r, not active"
                      % fips.get("status"))
    others = sorted(ident for ident, info in providers.items()
                    if ident not in ALLOWED_PROVIDERS and info.get("status", "active") == "active")
    if others:
        errors.append("providers other than fips and base are active: %s (an .include or a "
                      "section elsewhere activates them; with them, non-FIPS algorithms can be "
                      "fetched whenever the fips=yes property is not asked for)"
                      % ", ".join(others))
    if not sha256:
        errors.append("openssl dgst -sha256 failed: %s" % sha_out)
    if md5:
        errors.append("openssl dgst -md5 still works: a non-FIPS provider is active")
    return dict(
        loads=rc == 0,
        providers=sorted(providers),
        other_providers_active=others,
        provider_active=fips is not None and fips.get("status") == "active",
        fips_provider_version=fips.get("version") if fips else None,
        sha256_works=sha256,
        md5_refused=not md5,
        errors=errors,
    )


def fipsinstall_verify(module, openssl, fips_so, cnf):
    """``(verified, output)``: does ``cnf`` (a fipsmodule.cnf) match ``fips_so``?"""
    rc, out, err = _run(module, openssl, ["fipsinstall", "-module", fips_so, "-in", cnf,
                                          "-verify"], EMPTY_CONF)
    text = _output(out, err)
    return rc == 0 and "VERIFY PASSED" in text, text


def fipsinstall(module, openssl, fips_so, out_path):
    """Generate a fipsmodule.cnf for ``fips_so`` at ``out_path`` (runs the self-tests)."""
    rc, out, err = _run(module, openssl, ["fipsinstall", "-module", fips_so, "-out", out_path],
                        EMPTY_CONF)
    text = _output(out, err)
    if rc != 0 or "INSTALL PASSED" not in text:
        raise OpenSSLRunError("openssl fipsinstall failed (self-test or module error): %s"
                              % _last_lines(text))
    return text


def _last_lines(text, n=8):
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:])
