# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of SSH trust: which host keys the controller's known-hosts files hold
for a host (as OpenSSH itself resolves and matches them), whether the host will still offer one
of them once sshd is in FIPS mode, and learning the host's FIPS host keys.

Controller-side only (it runs ``ssh -G`` and ``ssh-keygen -F`` on the controller). Every
decision is taken by OpenSSH's own programs where OpenSSH has the logic (option precedence,
``Host`` blocks, ``%``-tokens, host patterns, hashed names); this file only reads their answers.
"""

import base64
import fcntl
import hashlib
import hmac
import os
import shlex
import subprocess
import tempfile

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, ssh_keys

# StrictHostKeyChecking values under which a host key OpenSSH cannot verify stops the connection
# (ssh -G prints yes and no as true and false).
STRICT = ("yes", "ask", "accept-new")


def strict_checking(cfg):
    """``StrictHostKeyChecking`` as written in ssh_config: yes, ask, accept-new, no, off."""
    value = (cfg.get("stricthostkeychecking") or "ask").lower()
    return {"true": "yes", "false": "no"}.get(value, value)


class TrustError(Exception):
    """A controller-side program or file could not answer."""


def run(argv, timeout=30):
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TrustError("%s: %s" % (" ".join(shlex.quote(a) for a in argv), e)) from e
    return proc.returncode, proc.stdout, proc.stderr


def client_args(ssh_args=None, host_key_checking=True, port=None, private_key_file=None,
                user=None, common_args=None, extra_args=None):
    """The ``ssh`` options Ansible's ssh connection plugin passes, in its order (the first value
    of an option wins in OpenSSH, so the order decides)."""
    args = []
    if ssh_args:
        args += shlex.split(ssh_args)
    if host_key_checking is False:
        args += ["-o", "StrictHostKeyChecking=no"]
    if port is not None:
        args += ["-o", "Port=%s" % port]
    if private_key_file:
        args += ["-o", "IdentityFile=%s" % os.path.expanduser(private_key_file)]
    if user:
        args += ["-o", "User=%s" % user]
    for extra in (common_args, extra_args):
        if extra:
            args += shlex.split(extra)
    return args


def client_config(ssh, args, host):
    """``ssh -G``: the effective client configuration for ``host`` with ``args``, as a dict of
    lower-case keywords; keywords that may repeat (``identityfile``...) are lists."""
    rc, out, err = run([ssh, *args, "-G", host])
    if rc != 0:
        raise TrustError("ssh -G %s failed: %s" % (host, (err or out).strip()))
    multi = ("identityfile", "certificatefile", "localforward", "remoteforward", "sendenv",
             "setenv", "dynamicforward")
    cfg = {}
    for line in out.splitlines():
        key, _sep, value = line.partition(" ")
        if key in multi:
            cfg.setdefault(key, []).append(value)
        else:
            cfg[key] = value
    return cfg


def lookup_name(cfg):
    """The name OpenSSH looks the host up by in known-hosts files."""
    name = cfg.get("hostkeyalias") or cfg.get("hostname")
    if not cfg.get("hostkeyalias") and cfg.get("port", "22") != "22":
        name = "[%s]:%s" % (name, cfg["port"])
    return name


def known_hosts_files(cfg):
    """The user's, then the global known-hosts files OpenSSH consults (expanded)."""
    paths = []
    for key in ("userknownhostsfile", "globalknownhostsfile"):
        for path in (cfg.get(key) or "").split():
            if path.lower() != "none":
                paths.append(os.path.expanduser(path))
    return paths


def _fields(line):
    """``(marker, hosts, type, base64)`` of a known-hosts line, or None."""
    words = line.split()
    marker = None
    if words and words[0].startswith("@"):
        marker, words = words[0], words[1:]
    if len(words) < 3:
        return None
    return marker, words[0], words[1], words[2]


def lookup(keygen, name, paths):
    """Every known-hosts line OpenSSH matches for ``name``: ``[{file, line, marker, hosts, type,
    public_key, fingerprint, fips_usable}]`` (``ssh-keygen -F`` decides what matches, hashed
    names and patterns included)."""
    found = []
    for path in paths:
        if not os.path.isfile(path):
            continue
        rc, out, err = run([keygen, "-F", name, "-f", path])
        if rc not in (0, 1):
            raise TrustError("ssh-keygen -F %s -f %s failed: %s" % (name, path, err.strip()))
        lineno = None
        for text in out.splitlines():
            if text.startswith("# Host ") and " found: line " in text:
                lineno = int(text.split(" found: line ", 1)[1].split()[0])
                continue
            fields = _fields(text)
            if not fields or lineno is None:
                continue
            marker, hosts, key_type, b64 = fields
            info = ssh_keys.describe("%s %s" % (key_type, b64)) or {}
            found.append(dict(file=path, line=lineno, text=text, marker=marker, hosts=hosts,
                              type=key_type,
                              public_key=info.get("public_key"),
                              fingerprint=info.get("fingerprint"),
                              fips_usable=bool(info.get("fips_usable"))))
            lineno = None
    return found


def _signatures(key_type):
    """The FIPS signature algorithms a host key of this type can be offered with."""
    base = key_type.replace("-cert-v01@openssh.com", "")
    sigs = ["rsa-sha2-512", "rsa-sha2-256"] if base == "ssh-rsa" else [base]
    return [s for s in sigs if s in algorithms.SIGNATURES]


def judge(cfg, known, offered_after, password_auth=False):
    """Will OpenSSH still verify the host once sshd offers only ``offered_after`` (host key
    ``public_key`` lines)? Returns ``{status, reason, remaining}`` with status ``pass``,
    ``fail`` or ``unknown``."""
    strict = strict_checking(cfg)
    name = lookup_name(cfg)
    client_algs = set((cfg.get("hostkeyalgorithms") or "").split(","))
    offered = {p for p in offered_after if p}
    plain = [k for k in known if not k["marker"]]
    revoked = {k["public_key"] for k in known if k["marker"] == "@revoked"}
    remaining = [k for k in plain if k["public_key"] in offered
                 and k["public_key"] not in revoked
                 and (not client_algs - {""} or set(_signatures(k["type"])) & client_algs)]
    if remaining:
        return dict(status="pass", remaining=remaining, reason="%s holds the %s key %s of %s, "
                    "which sshd still offers in FIPS mode" % (
                        remaining[0]["file"], remaining[0]["type"], remaining[0]["fingerprint"],
                        name))
    if strict not in STRICT:
        if password_auth:
            return dict(status="fail", remaining=[], reason=(
                "with StrictHostKeyChecking=%s OpenSSH still connects to %s when the host key "
                "changes, but disables password authentication, which Ansible uses here"
                % (strict, name)))
        return dict(status="pass", remaining=[], reason=(
            "host key checking is off for %s (StrictHostKeyChecking=%s): OpenSSH connects "
            "whatever key it is shown" % (name, strict)))
    if not plain and not any(k["marker"] == "@cert-authority" for k in known):
        if strict == "accept-new":
            return dict(status="pass", remaining=[], reason=(
                "no key of %s is known; OpenSSH treats it as a new host (StrictHostKeyChecking="
                "%s), before and after the change" % (name, strict)))
        return dict(status="unknown", remaining=[], reason=(
            "no known-hosts entry matches %s (looked up in %s), yet Ansible is connected with "
            "StrictHostKeyChecking=%s: the host is verified some other way (a KnownHostsCommand, "
            "DNS, another alias) that this check cannot follow" % (
                name, ", ".join(known_hosts_files(cfg)) or "no file", strict)))
    if any(k["marker"] == "@cert-authority" for k in known):
        return dict(status="unknown", remaining=[], reason=(
            "%s is trusted through a @cert-authority line: whether the host presents a "
            "certificate of a FIPS key type signed by it cannot be known from here" % name))
    types = ", ".join(sorted({k["type"] for k in plain}))
    return dict(status="fail", remaining=[], reason=(
        "the controller knows %s only by %s key(s) (%s), and in FIPS mode sshd offers %s: the "
        "next connection fails host key verification (StrictHostKeyChecking=%s)" % (
            name, types, ", ".join(sorted({k["file"] for k in plain})),
            ", ".join(sorted({p.split()[0] for p in offered})) or "no key",
            strict)))


def hash_name(name, salt=None):
    """OpenSSH's hashed host name (``|1|salt|HMAC-SHA1(salt, name)``, as ``HashKnownHosts``)."""
    salt = salt if salt is not None else os.urandom(20)
    mac = hmac.new(salt, name.encode("utf-8"), hashlib.sha1).digest()
    return "|1|%s|%s" % (base64.b64encode(salt).decode("ascii"),
                         base64.b64encode(mac).decode("ascii"))


def _locked(path):
    """An exclusive lock on the file's directory: forks that update the same known-hosts file for
    different hosts take turns (no lock file is left behind)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd = os.open(directory, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def _write(path, text, mode):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def update(path, name, add=(), remove=(), hashed=False, check_mode=False):
    """Add ``add`` (``type base64`` keys) for ``name`` and drop the lines ``remove`` (their exact
    text, as :func:`lookup` returned it) from the known-hosts file ``path``. Returns ``(before,
    after)``; writes (atomically, the mode kept, 0600 for a new file) only when they differ and
    not in check mode. Every other line is kept byte for byte."""
    fd = None
    if not check_mode:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        fd = _locked(path)
    try:
        before = _read(path) or ""
        lines = before.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        drop = {line.strip() for line in remove}
        kept = [line for line in lines if line.strip() not in drop]
        have = set()
        for line in kept:
            f = _fields(line)
            if f and not f[0] and (name in f[1].split(",") or _hashed_matches(f[1], name)):
                have.add("%s %s" % (f[2], f[3]))
        for key in add:
            if key not in have:
                kept.append("%s %s\n" % (hash_name(name) if hashed else name, key))
                have.add(key)
        after = "".join(kept)
        if after != before and not check_mode:
            mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o600
            _write(path, after, mode)
        return before, after
    finally:
        if fd is not None:
            os.close(fd)


def is_single_host(hosts_field):
    """Does a known-hosts line name one host only (so removing it touches no other host)?"""
    return "," not in hosts_field and not any(c in hosts_field for c in "*?!")


def _hashed_matches(field, name):
    if not field.startswith("|1|"):
        return False
    try:
        salt = field.split("|")[2]
        return hmac.compare_digest(hash_name(name, base64.b64decode(salt)), field)
    except (ValueError, TypeError, IndexError):
        return False
