# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which OpenSSL FIPS provider versions hold a CMVP certificate (FIPS mode is not FIPS
validation: a provider built from any other version runs the same self-tests and refuses the same
algorithms, but is not a validated module).

Source: the OpenSSL project's list of validated FIPS providers (https://openssl-library.org/source/,
"FIPS 140-2/140-3 validated versions") and the CMVP entries it links to
(https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/4282 and
.../4985), as of the date below. CMVP moved every FIPS 140-2 certificate to the historical list on
2026-09-21. Check the CMVP search before relying on this in an audit; docs/security.md says how.

Standard library only: runs on the managed host (fips_facts).
"""

CHECKED = "2026-12-03"

# version -> (certificate, standard, state, note)
VALIDATED = {
    "3.1.2": ("4985", "FIPS 140-3", "active", None),
    "3.0.9": ("4282", "FIPS 140-2", "historical",
              "FIPS 140-2 certificates became historical on 2026-09-21"),
    "3.0.8": ("4282", "FIPS 140-2", "historical",
              "FIPS 140-2 certificates became historical on 2026-09-21"),
    "3.0.0": ("4282", "FIPS 140-2", "historical",
              "superseded on the certificate by 3.0.8; FIPS 140-2 certificates became historical "
              "on 2026-09-21"),
}


def validation(version):
    """``{status, certificate, standard, reason}`` for the running provider's version:
    ``pass`` when that version holds an active CMVP certificate, ``fail`` when it holds none (or
    only a historical one), ``unknown`` when the version is not known."""
    if not version:
        return dict(status="unknown", certificate=None, standard=None, checked=CHECKED,
                    reason="the FIPS provider's version is not known (is it active?)")
    base = version.split("-")[0].split("+")[0]
    entry = VALIDATED.get(base)
    if entry is None:
        return dict(status="fail", certificate=None, standard=None, checked=CHECKED, reason=(
            "OpenSSL FIPS provider %s holds no CMVP certificate (validated: %s, as of %s): FIPS "
            "mode is on, but the module is not a validated one" % (
                version, ", ".join("%s (#%s, %s)" % (v, c, s) for v, (c, s, state, _n)
                                   in sorted(VALIDATED.items()) if state == "active"), CHECKED)))
    certificate, standard, state, note = entry
    if state != "active":
        return dict(status="fail", certificate=certificate, standard=standard, checked=CHECKED,
                    reason="OpenSSL FIPS provider %s was validated (CMVP #%s, %s), but the "
                    "certificate is %s: %s" % (version, certificate, standard, state, note))
    return dict(status="pass", certificate=certificate, standard=standard, checked=CHECKED,
                reason="OpenSSL FIPS provider %s holds CMVP certificate #%s (%s)" % (
                    version, certificate, standard))
