# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FIPS end state of flatcar.fips.fips_mode as an Ignition config (and Butane), for nodes
that are born in FIPS mode. Controller side.

Every piece is made by the code the modules use on a running host, so first boot and a later run
of the role agree byte for byte:
* kernel arguments: ``fips=1`` should exist, ``fips=0`` should not (Ignition's kargs stage edits
  the OEM ``grub.cfg`` on Flatcar, as ``kernel_args`` does);
* ``/etc/ssl/openssl.cnf``: the distribution's stock file (shipped in ``data/ignition/``) edited
  by ``openssl_cnf.enable_fips``, the function ``openssl_fips`` uses;
* ``/etc/system-fips``;
* the sshd drop-in ``05-fips.conf`` from ``algorithms.drop_in_text`` (``sshd_crypto``'s text);
* the update guard (``fips_guard``: script and unit, enabled), which also creates
  ``fipsmodule.cnf`` at first boot on a release that does not ship one, and keeps it in step
  with ``fips.so`` after updates (on dm-verity verified storage only).
"""

import base64
import json
import os
import urllib.parse

import yaml
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.flatcar.fips.plugins.module_utils import (
    algorithms,
    fips_guard,
    openssl_cnf,
)

SPECS = {"3.3.0": "1.0.0", "3.4.0": "1.1.0"}  # Ignition spec -> Butane flatcar variant version
DEFAULT_SPEC = "3.3.0"
FORMATS = ("config", "butane")

# Flatcar's paths (../shared/reference/flatcar.md) and the role's defaults
OPENSSL_CNF = "/etc/ssl/openssl.cnf"
FIPSMODULE_CNF = "/etc/ssl/fipsmodule.cnf"
FIPS_SO = "/usr/lib64/ossl-modules/fips.so"
OPENSSL = "/usr/bin/openssl"
SYSTEM_FIPS = "/etc/system-fips"
GUARD_SCRIPT = "/etc/flatcar-fips/fipsmodule-refresh"
GUARD_STATUS = "/run/flatcar-fips/fipsmodule-refresh.status"

# The stock openssl.cnf each release line installs (what openssl_fips edits on the host).
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "data", "ignition")
STOCK = {
    # Flatcar stable 4593.2.x ships OpenSSL 3.5.x and installs its stock apps/openssl.cnf as
    # /etc/ssl/openssl.cnf (a regular file since stable 4459.2.0); this is OpenSSL 3.5.7's.
    "stable": "openssl.cnf.openssl-3.5",
}

# The fips_mode role's variables. Those that shape the end state are used; the others are about
# a run against a live host (reboots, the controller's known-hosts file, LUKS keys, reports) and
# mean nothing in a first-boot config: accepted, so that the same variables can be passed, and
# ignored. Any other name is an error.
USED = ("fips_mode_state", "fips_mode_sshd_policy", "fips_mode_sshd_allow_hmac_sha1",
        "fips_mode_openssl_update_guard", "fips_mode_update_guard_accept_unverified_usr")
IGNORED = ("fips_mode_reboot_ok", "fips_mode_reboot_timeout", "fips_mode_allow_non_flatcar",
           "fips_mode_generate_host_keys", "fips_mode_ssh_users", "fips_mode_known_hosts",
           "fips_mode_known_hosts_file", "fips_mode_known_hosts_remove_stale",
           "fips_mode_accept_unverifiable_user_keys", "fips_mode_luks_devices",
           "fips_mode_luks_keys", "fips_mode_luks_accept_argon2",
           "fips_mode_luks_header_backup_fetch_dir", "fips_mode_luks_remove_header_backups",
           "fips_mode_regenerate_fipsmodule", "fips_mode_backup", "fips_mode_verify",
           "fips_mode_extra_checks")

# The files and units this config owns: a user config that also writes one of them conflicts.
OWNED_PATHS = (OPENSSL_CNF, SYSTEM_FIPS, algorithms.DROP_IN, GUARD_SCRIPT)
OWNED_UNITS = (fips_guard.UNIT_NAME,)


class IgnitionError(ValueError):
    """Bad input, said with the option's name."""


def _bool(name, value):
    """Ansible's own boolean rules (yes/no, true/false, 1/0, on/off), with the option's name."""
    try:
        return boolean(value, strict=True)
    except TypeError as e:
        raise IgnitionError("%s must be a boolean, not %r" % (name, value)) from e


def options_of(variables):
    """The role's variables (``fips_mode_*``) with the role's defaults, checked; unknown names
    and values the role would refuse are errors that name them."""
    variables = dict(variables or {})
    unknown = sorted(k for k in variables if k not in USED and k not in IGNORED)
    if unknown:
        raise IgnitionError(
            "unknown option%s %s: the Ignition config takes the fips_mode role's variables (%s "
            "shape it; the others are accepted and ignored)"
            % ("s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(USED)))
    state = variables.get("fips_mode_state", "enabled")
    if state != "enabled":
        raise IgnitionError("fips_mode_state: %r: a first-boot config renders the enabled state "
                            "only (to switch a node off, run flatcar.fips.disable)" % (state,))
    policy = variables.get("fips_mode_sshd_policy") or {}
    if not isinstance(policy, dict):
        raise IgnitionError("fips_mode_sshd_policy must be a dict of keyword: [algorithms]")
    opts = dict(
        sshd_policy=policy,
        allow_hmac_sha1=_bool("fips_mode_sshd_allow_hmac_sha1",
                              variables.get("fips_mode_sshd_allow_hmac_sha1", False)),
        update_guard=_bool("fips_mode_openssl_update_guard",
                           variables.get("fips_mode_openssl_update_guard", True)),
        accept_unverified=_bool("fips_mode_update_guard_accept_unverified_usr",
                                variables.get("fips_mode_update_guard_accept_unverified_usr",
                                              False)),
    )
    try:
        opts["sshd_lists"] = algorithms.policy_lists(policy, opts["allow_hmac_sha1"])
    except ValueError as e:
        raise IgnitionError("fips_mode_sshd_policy: %s" % e) from e
    return opts


def stock_openssl_cnf(release="stable", text=None):
    if text is not None:
        return text
    if release not in STOCK:
        raise IgnitionError("release: %r: the stock openssl.cnf is shipped for %s; pass the "
                            "release's own file as openssl_cnf_stock" % (release, ", ".join(STOCK)))
    with open(os.path.join(DATA, STOCK[release]), encoding="utf-8") as f:
        return f.read()


def fips_openssl_cnf(stock_text):
    """The stock file made into the FIPS configuration by openssl_fips's own code."""
    try:
        cnf = openssl_cnf.OpenSSLCnf(stock_text)
    except openssl_cnf.OpenSSLCnfError as e:
        raise IgnitionError("openssl_cnf_stock: %s" % e) from e
    openssl_cnf.enable_fips(cnf, FIPSMODULE_CNF, default_properties_fips=True)
    return cnf.render()


def data_url(text):
    """An RFC 2397 data URL, as Butane writes inline contents (percent-encoded text; base64 when
    that is shorter)."""
    raw = text.encode("utf-8")
    quoted = urllib.parse.quote(raw, safe="")
    b64 = base64.b64encode(raw).decode("ascii")
    if len(b64) + 7 < len(quoted):
        return "data:;base64," + b64
    return "data:," + quoted


def pieces(opts, release="stable", openssl_cnf_stock=None):
    """What the config carries, by kind, before it is written in a spec's shape."""
    files = [
        dict(path=SYSTEM_FIPS, mode=0o644, text=""),
        dict(path=OPENSSL_CNF, mode=0o644,
             text=fips_openssl_cnf(stock_openssl_cnf(release, openssl_cnf_stock))),
        dict(path=algorithms.DROP_IN, mode=0o600,
             text=algorithms.drop_in_text(opts["sshd_lists"], required_rsa_size=True)),
    ]
    units = []
    if opts["update_guard"]:
        files.append(dict(path=GUARD_SCRIPT, mode=0o755,
                          text=fips_guard.script(OPENSSL, FIPS_SO, FIPSMODULE_CNF, GUARD_STATUS,
                                                 opts["accept_unverified"])))
        units.append(dict(name=fips_guard.UNIT_NAME, enabled=True,
                          text=fips_guard.unit(FIPS_SO, GUARD_SCRIPT)))
    return dict(kernel=dict(should_exist=["fips=1"], should_not_exist=["fips=0"]),
                files=files, units=units)


def to_ignition(parts, spec=DEFAULT_SPEC):
    if spec not in SPECS:
        raise IgnitionError("spec: %r is not supported (%s)" % (spec, ", ".join(SPECS)))
    return {
        "ignition": {"version": spec},
        "kernelArguments": {"shouldExist": parts["kernel"]["should_exist"],
                            "shouldNotExist": parts["kernel"]["should_not_exist"]},
        "storage": {"files": [
            {"path": f["path"], "mode": f["mode"], "overwrite": True,
             "contents": {"source": data_url(f["text"])}}
            for f in parts["files"]]},
        "systemd": {"units": [
            {"name": u["name"], "enabled": u["enabled"], "contents": u["text"]}
            for u in parts["units"]]},
    }


def merge(base, ours):
    """``base`` (the user's own Ignition config) with ours added: kernel arguments joined,
    files and units appended. A path or unit both write is an error naming it."""
    if not isinstance(base, dict):
        raise IgnitionError("base: the user's config must be an Ignition config (a dict)")
    version = (base.get("ignition") or {}).get("version")
    if version != ours["ignition"]["version"]:
        raise IgnitionError("base: the user's config is spec %s, this one %s: render with "
                            "spec=%s" % (version, ours["ignition"]["version"], version))
    out = json.loads(json.dumps(base))
    storage = out.setdefault("storage", {})
    theirs = {f.get("path") for f in storage.get("files", [])}
    theirs |= {f.get("path") for f in storage.get("links", [])}
    clash = sorted(theirs & {f["path"] for f in ours["storage"]["files"]})
    units = out.setdefault("systemd", {}).setdefault("units", [])
    clash += sorted({u.get("name") for u in units} & {u["name"] for u in ours["systemd"]["units"]})
    if clash:
        raise IgnitionError("base: the user's config already writes %s, which the FIPS config "
                            "owns; remove it there" % ", ".join(clash))
    karg = out.setdefault("kernelArguments", {})
    for key in ("shouldExist", "shouldNotExist"):
        have = karg.get(key, [])
        karg[key] = have + [a for a in ours["kernelArguments"][key] if a not in have]
    if set(karg["shouldExist"]) & set(karg["shouldNotExist"]):
        raise IgnitionError("base: kernelArguments would both keep and remove %s"
                            % ", ".join(sorted(set(karg["shouldExist"])
                                               & set(karg["shouldNotExist"]))))
    storage.setdefault("files", []).extend(ours["storage"]["files"])
    units.extend(ours["systemd"]["units"])
    return out


def to_butane(parts, spec=DEFAULT_SPEC):
    """Butane (variant flatcar) for people who keep Butane sources: 1.0.0 emits spec 3.3.0,
    1.1.0 emits 3.4.0."""
    if spec not in SPECS:
        raise IgnitionError("spec: %r is not supported (%s)" % (spec, ", ".join(SPECS)))
    return {
        "variant": "flatcar",
        "version": SPECS[spec],
        "kernel_arguments": {"should_exist": parts["kernel"]["should_exist"],
                             "should_not_exist": parts["kernel"]["should_not_exist"]},
        "storage": {"files": [
            {"path": f["path"], "mode": f["mode"], "overwrite": True,
             "contents": {"inline": f["text"]}}
            for f in parts["files"]]},
        "systemd": {"units": [
            {"name": u["name"], "enabled": u["enabled"], "contents": u["text"]}
            for u in parts["units"]]},
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (|), modes in octal: Butane as people write it."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


class _Octal(int):
    pass


_BlockDumper.add_representer(
    _Octal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", "0%o" % v))


def butane_text(butane):
    """The Butane dict as YAML text: contents as literal blocks, file modes in octal."""
    data = json.loads(json.dumps(butane))
    for f in data.get("storage", {}).get("files", []):
        f["mode"] = _Octal(f["mode"])
    return ("# Generated by flatcar.fips.ignition_config: the fips_mode role's FIPS end state.\n"
            + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1000,
                        default_flow_style=False, allow_unicode=True))


def render(variables=None, spec=DEFAULT_SPEC, output="config", release="stable",
           openssl_cnf_stock=None, base=None):
    """The config for these role variables: an Ignition config (a dict; merged into ``base``
    when given) or, with ``output='butane'``, a Butane config (YAML text)."""
    if output not in FORMATS:
        raise IgnitionError("output: %r is not one of %s" % (output, ", ".join(FORMATS)))
    parts = pieces(options_of(variables), release, openssl_cnf_stock)
    if output == "butane":
        if base is not None:
            raise IgnitionError("base: merge Butane sources with ignition.config.merge (see "
                                "the documentation), not here")
        return butane_text(to_butane(parts, spec))
    config = to_ignition(parts, spec)
    return merge(base, config) if base is not None else config
