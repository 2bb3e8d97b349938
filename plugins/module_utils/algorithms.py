# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one source of truth for FIPS-approved SSH algorithms, per sshd keyword.

The default allow-list is the intersection of the RHEL FIPS crypto policy and the DISA STIG,
minus anything OpenSSH implements outside OpenSSL, in order of preference:

* not approved: ``chacha20-poly1305@openssh.com`` (fails outright under the FIPS provider),
  ``curve25519-*``, ``sntrup761x25519-*``, ``mlkem768x25519-*`` (computed inside OpenSSH),
  ``ssh-ed25519*`` keys, ``ssh-rsa`` (SHA-1 signatures), ``umac-*``, ``hmac-md5*``, ``3des-cbc``,
  ``arcfour*``, ``aes*-cbc`` (plaintext-recovery attacks on SSH's CBC mode);
* ``hmac-sha1*`` is allowed by the RHEL policy, not by the STIG: optional, off by default.

Standard library only: this file runs on the managed host.
"""

CIPHERS = ["aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr",
           "aes128-ctr"]
MACS = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256",
        "hmac-sha2-512"]
SHA1_MACS = ["hmac-sha1-etm@openssh.com", "hmac-sha1"]
KEX = ["ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
       "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256",
       "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"]
SIGNATURES = ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
              "rsa-sha2-256", "rsa-sha2-512"]
CERT_SIGNATURES = [s + "-cert-v01@openssh.com" for s in SIGNATURES]
KEY_ALGORITHMS = SIGNATURES + CERT_SIGNATURES

# sshd keyword (as written in sshd_config) -> approved algorithms, in order of preference
APPROVED = {
    "Ciphers": CIPHERS,
    "MACs": MACS,
    "KexAlgorithms": KEX,
    "HostKeyAlgorithms": KEY_ALGORITHMS,
    "PubkeyAcceptedAlgorithms": KEY_ALGORITHMS,
    "HostbasedAcceptedAlgorithms": KEY_ALGORITHMS,
    "CASignatureAlgorithms": SIGNATURES,
}
KEYWORDS = list(APPROVED)
# Allowed inside Match blocks (the others are rejected there by sshd itself).
MATCH_KEYWORDS = ["PubkeyAcceptedAlgorithms", "HostbasedAcceptedAlgorithms",
                  "CASignatureAlgorithms"]
# What `ssh -Q` calls the list each keyword draws from.
QUERY = {
    "Ciphers": "cipher",
    "MACs": "mac",
    "KexAlgorithms": "kex",
    "HostKeyAlgorithms": "key-sig",
    "PubkeyAcceptedAlgorithms": "key-sig",
    "HostbasedAcceptedAlgorithms": "key-sig",
    # "key-sig" lists every signature algorithm "sig" does (and the certificate types, which
    # no approved CA signature name matches): one ssh -Q fewer for the same answer
    "CASignatureAlgorithms": "key-sig",
}
MIN_RSA_BITS = 2048
REQUIRED_RSA_SIZE = "RequiredRSASize"

# Key types (as in authorized_keys and host key files) that can sign with an approved algorithm.
FIPS_KEY_TYPES = ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
                  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                  "ecdsa-sha2-nistp521-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com"]

_CANONICAL = {k.lower(): k for k in KEYWORDS}


def canonical(keyword):
    """``kexalgorithms`` -> ``KexAlgorithms``; None for keywords this collection leaves alone."""
    return _CANONICAL.get(keyword.lower())


def approved(keyword, allow_sha1=False, supported=None, overrides=None):
    """The allow-list for ``keyword``, in order, limited to what ``supported`` contains.

    ``overrides`` (``{keyword: [algorithms]}``) replaces a list; every entry must itself be
    approved (see :func:`unapproved`).
    """
    keyword = canonical(keyword) or keyword
    if overrides and keyword in overrides:
        algs = list(overrides[keyword])
    else:
        algs = list(APPROVED[keyword])
        if keyword == "MACs" and allow_sha1:
            algs += SHA1_MACS
    if supported is not None:
        algs = [a for a in algs if a in supported]
    return algs


def is_approved(keyword, algorithm, allow_sha1=False):
    keyword = canonical(keyword) or keyword
    if keyword == "MACs" and allow_sha1 and algorithm in SHA1_MACS:
        return True
    return algorithm in APPROVED[keyword]


def unapproved(keyword, algorithms, allow_sha1=False):
    """The entries of ``algorithms`` that are not approved for ``keyword``."""
    return [a for a in algorithms if not is_approved(keyword, a, allow_sha1)]


def key_is_fips_usable(key_type, bits=None):
    """Can a key of this type (and size, for RSA) sign with an approved algorithm?"""
    if key_type not in FIPS_KEY_TYPES:
        return False
    if key_type.startswith("ssh-rsa"):
        return bits is None or bits >= MIN_RSA_BITS
    return True


def policy_lists(policy=None, allow_sha1=False, supported=None):
    """Every keyword's allow-list: :func:`approved`, with ``policy`` (``{keyword: [algorithms]}``,
    any case) replacing lists. ``supported`` maps ``sshd -Q`` query names to what this sshd
    offers (None: no limit). ValueError, with the reason, for an unknown keyword, an empty list,
    an algorithm that is not approved, or a keyword left with no algorithm."""
    overrides = {}
    for keyword, algs in (policy or {}).items():
        name = canonical(keyword)
        if name is None:
            raise ValueError("policy: %s is not one of %s." % (keyword, ", ".join(KEYWORDS)))
        if not isinstance(algs, list) or not algs:
            raise ValueError("policy: %s must be a non-empty list of algorithms." % keyword)
        bad = unapproved(name, algs, allow_sha1)
        if bad:
            raise ValueError("policy: %s %s not FIPS-approved for %s."
                             % (", ".join(bad), "is" if len(bad) == 1 else "are", name))
        overrides[name] = algs
    lists = {}
    for keyword in KEYWORDS:
        algs = approved(keyword, allow_sha1,
                        None if supported is None else supported.get(QUERY[keyword]), overrides)
        if not algs:
            raise ValueError("This OpenSSH supports none of the approved algorithms for %s."
                             % keyword)
        lists[keyword] = algs
    return lists


DROP_IN_HEADER = (
    "# Managed by flatcar.fips.sshd_crypto: only FIPS-approved algorithms.\n"
    "# sshd keeps the first value it reads: this file sorts before 50-flatcar-sshd.conf.\n"
    "# Do not edit; 'state: absent' removes it.\n"
)
DROP_IN = "/etc/ssh/sshd_config.d/05-fips.conf"


def drop_in_text(lists, required_rsa_size=True, extra_lines=()):
    """The sshd drop-in: one line per keyword of ``lists`` (from :func:`approved`), and
    RequiredRSASize when this sshd knows it (OpenSSH 9.1+). Shared by sshd_crypto, which writes
    it, and the Ignition renderer, which puts it in a first-boot config."""
    lines = [DROP_IN_HEADER.rstrip("\n")]
    for keyword in KEYWORDS:
        lines.append("%s %s" % (keyword, ",".join(lists[keyword])))
    if required_rsa_size:
        lines.append("%s %d" % (REQUIRED_RSA_SIZE, MIN_RSA_BITS))
    lines.extend(extra_lines)
    return "\n".join(lines) + "\n"
