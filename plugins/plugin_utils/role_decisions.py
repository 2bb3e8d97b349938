# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fips_mode role's decisions, as small named functions (controller side).

The role gathers facts with modules and acts with modules; what it decides in between lives
here, where unit tests reach it directly (tests/unit/controller/test_role_decisions.py):

* :func:`refusals`: what the preflight refuses before anything changes (each message says what
  to do);
* :func:`reread_layers`: what is read again after the changes;
* :func:`failed_checks`: the compliance checks that fail the role (unknown is never excused);
* :func:`outcome`: the one line per host that says where it stands;
* :func:`rollout_stopped`: why a host stops the rollout of ``flatcar.fips.switch``.

``settings`` is the role's variables without the ``fips_mode_`` prefix, as
``roles/fips_mode/vars/main.yml`` (``fips_mode__settings``) passes them.
"""

import os

from ansible_collections.flatcar.fips.plugins.module_utils.layers import GATHERED

TASK_FILE_SETTINGS = ("reboot_pre_tasks", "reboot_post_tasks", "reboot_signal_tasks",
                      "health_check_tasks")


def _get(data, *path, default=None):
    """``data[path[0]][path[1]]...``, or ``default`` when any step is missing or None."""
    for key in path:
        if not isinstance(data, dict) or data.get(key) is None:
            return default
        data = data[key]
    return data


# --- preflight -------------------------------------------------------------------------------

def _task_file_refusals(settings):
    for name in TASK_FILE_SETTINGS:
        path = settings.get(name) or ""
        if not path:
            continue
        if not os.path.isabs(path):
            why = "an absolute path"
        elif not os.path.isfile(path):
            why = "a file on the controller"
        else:
            continue
        yield ("fips_mode_%s is %s, which is not %s. Give the absolute path of a task file on "
               "the controller." % (name, path, why))
    if (settings.get("reboot_method") == "coordinator" and not settings.get("reboot_signal_tasks")
            and not os.path.isabs(settings.get("reboot_signal_path") or "")):
        yield ("fips_mode_reboot_signal_path is %s, which is not an absolute path."
               % settings.get("reboot_signal_path"))


def _system_refusals(facts, settings, host):
    system = facts.get("system") or {}
    if system.get("flatcar") or settings.get("allow_non_flatcar"):
        return
    if system.get("flatcar") is None:
        yield ("Cannot tell whether %s runs Flatcar Container Linux: %s. Fix it, or set "
               "fips_mode_allow_non_flatcar: true for a Flatcar-like system you have checked."
               % (host, (facts.get("errors") or {}).get("system.os_release",
                                                        "no facts about the system")))
        return
    yield ("%s is not Flatcar Container Linux (%s): the collection manages Flatcar paths and "
           "boot. Set fips_mode_allow_non_flatcar: true for a Flatcar-like system you have "
           "checked." % (host, system.get("os_name") or system.get("os_id")
                         or "no os-release"))


def _kernel_refusals(facts):
    system, kernel = facts.get("system") or {}, facts.get("kernel")
    errors = facts.get("errors") or {}
    if system.get("oem_grub_cfg_ignored"):
        yield ("UEFI Secure Boot is on and Flatcar %s ignores the OEM grub.cfg, so fips=1 would "
               "never reach the kernel. Update to Flatcar stable 3975.2.0 or newer first."
               % system.get("os_version"))
    if kernel is not None and not kernel.get("grub_cfg_dir_present", True):
        yield ("%s cannot be created: its directory does not exist (is the OEM partition "
               "mounted?)." % kernel.get("grub_cfg"))
    elif kernel is None or kernel.get("configured_args") is None:
        yield ("The OEM grub.cfg cannot be read as GRUB reads it: %s. Fix it first."
               % errors.get("kernel.configured_args", errors.get("kernel", "unknown error")))


def _sshd_refusals(facts, settings):
    sshd, errors = facts.get("sshd"), facts.get("errors") or {}
    if sshd is None or sshd.get("host_keys") is None:
        yield ("sshd cannot be read: %s. Fix the sshd configuration (sshd -t) first."
               % errors.get("sshd", "unknown error"))
        return
    keys = sshd["host_keys"]
    if not any(k.get("fips_usable") for k in keys) and not settings.get("generate_host_keys"):
        have = ", ".join(k.get("type") or "unreadable" for k in keys if k.get("exists")) or "none"
        yield ("sshd has no FIPS-usable host key (it has: %s), so FIPS clients, Ansible included, "
               "could not connect. Set fips_mode_generate_host_keys: true to create an ECDSA "
               "P-256 host key, or add one (ECDSA, or RSA >= 2048 bits)." % have)
    for user in settings.get("ssh_users_checked") or []:
        access = (sshd.get("users") or {}).get(user) or {"status": "unknown",
                                                         "reason": "not examined"}
        if access.get("status") == "fail":
            yield ("User %s would be locked out once sshd accepts only FIPS algorithms: %s. Add "
                   "an ECDSA or RSA (>= 2048 bits) key to its authorized keys and connect with "
                   "it." % (user, access.get("reason")))
        elif access.get("status") != "pass" and not settings.get("accept_unverifiable_user_keys"):
            yield ("Whether user %s can still log in once sshd accepts only FIPS algorithms "
                   "cannot be known: %s. Make sure it can (a FIPS-usable key, a certificate "
                   "signed with ECDSA or RSA), then set fips_mode_accept_unverifiable_user_keys: "
                   "true." % (user, access.get("reason")))


def _trust_refusals(trust, settings, host):
    if not isinstance(trust, dict) or "host_key" not in trust:
        return
    client, user = trust.get("client_key") or {}, settings.get("connection_user")
    if client.get("status") == "fail":
        yield ("Ansible connects to %s as %s, and after the sshd change it could not log in: %s."
               % (host, user, client.get("reason")))
    elif client.get("status") != "pass" and not settings.get("accept_unverifiable_user_keys"):
        yield ("Whether Ansible can still log in to %s as %s after the sshd change cannot be "
               "proven: %s. Set fips_mode_accept_unverifiable_user_keys: true once you have "
               "checked it." % (host, user, client.get("reason")))
    hk, mode = trust["host_key"] or {}, settings.get("known_hosts")
    if mode != "ignore" and hk.get("status") == "fail":
        offered = ", ".join(line.split()[0] for line in hk.get("offered_after") or [] if line)
        yield ("The controller would no longer verify %s: %s. Set fips_mode_known_hosts: learn "
               "to add its FIPS host keys (%s) to %s over this authenticated connection before "
               "the switch, or add them yourself (ssh-keygen -F %s shows what is known)."
               % (host, hk.get("reason"), offered or "the ECDSA key to be generated",
                  hk.get("known_hosts_file") or "the known-hosts file", hk.get("name")))
    elif mode != "ignore" and hk.get("status") != "pass":
        yield ("Whether the controller will still verify %s after the sshd change cannot be "
               "known: %s. Set fips_mode_known_hosts: ignore once you have made sure it will."
               % (host, hk.get("reason")))


def _openssl_refusals(facts, settings):
    openssl, errors = facts.get("openssl"), facts.get("errors") or {}
    if openssl is None or openssl.get("version") is None:
        yield "OpenSSL cannot be examined: %s." % errors.get("openssl", "unknown error")
        return
    cnf = openssl.get("fipsmodule_cnf") or {}
    if not openssl.get("module_present"):
        yield ("%s does not exist: this OpenSSL has no FIPS provider. Use a Flatcar release that "
               "ships it." % openssl.get("module"))
    elif (cnf.get("present") and cnf.get("verified") is False
          and not cnf.get("generated_by_collection") and not settings.get("regenerate_fipsmodule")):
        yield ("%s does not verify against %s (usually a pending OS update: reboot into it "
               "first). Set fips_mode_regenerate_fipsmodule: true to regenerate it."
               % (cnf.get("path"), openssl.get("module")))


def _luks_refusals(facts, settings):
    luks, errors = facts.get("luks"), facts.get("errors") or {}
    if luks is None:
        yield "The LUKS headers cannot be read: %s." % errors.get("luks", "unknown error")
        return
    keys = settings.get("luks_keys") or {}
    accepted = settings.get("luks_accept_argon2") or []
    for device, slots in (luks.get("argon2_keyslots") or {}).items():
        if device not in keys and device not in accepted:
            yield ("LUKS device %s has keyslots %s using argon2, which cannot be opened in FIPS "
                   "mode. Give its key in fips_mode_luks_keys to convert them to PBKDF2, or list "
                   "it in fips_mode_luks_accept_argon2 to accept that it will not open."
                   % (device, ",".join(str(s) for s in slots)))
    devices, unreadable = luks.get("devices") or {}, luks.get("unreadable") or {}
    for device, key in keys.items():
        if device not in devices:
            yield ("fips_mode_luks_keys names %s, which the preflight did not find as a LUKS "
                   "device%s. Use the path the preflight reports, or list it in "
                   "fips_mode_luks_devices." % (device, " (unreadable: %s)" % unreadable[device]
                                                if device in unreadable else ""))
        elif not isinstance(key, dict) or (("key_file" in key) == ("passphrase" in key)):
            yield ("fips_mode_luks_keys[%s] must be a mapping with either key_file (and "
                   "optionally from_controller: true) or passphrase." % device)


def refusals(facts, settings, trust=None, host="localhost"):
    """What the preflight refuses, as a list of messages (empty: go ahead).

    ``facts`` are the preflight's ``flatcar_fips`` facts, ``trust`` what ``flatcar.fips.ssh_trust``
    predicted (enabling only). Switching out of FIPS mode checks the task files and the
    distribution only: every layer it touches goes back to what works without FIPS.
    """
    found = list(_task_file_refusals(settings))
    found += _system_refusals(facts, settings, host)
    if settings.get("state") == "enabled":
        found += _kernel_refusals(facts)
        found += _sshd_refusals(facts, settings)
        found += _trust_refusals(trust, settings, host)
        found += _openssl_refusals(facts, settings)
        found += _luks_refusals(facts, settings)
    return found


# --- reading again after the changes ---------------------------------------------------------

# Facts of one layer that a change of another can change without a reboot: the OpenSSL
# configuration decides cryptsetup's FIPS mode (2.6 and newer follow fips=yes), which fips_facts
# reads with the luks layer.
_FOLLOWS = {"openssl": ("luks",)}


def reread_layers(changed_layers, rebooted):
    """The layers the role reads again after its changes: every one after a reboot (a new
    kernel, every process started anew), else those it changed and those whose facts follow
    them."""
    if rebooted:
        return list(GATHERED)
    wanted = set(changed_layers or [])
    for layer in changed_layers or []:
        wanted.update(_FOLLOWS.get(layer, ()))
    return [layer for layer in GATHERED if layer in wanted]


# --- verification ----------------------------------------------------------------------------

def tolerated_checks(final, settings, reboot_required):
    """Checks that may fail without failing the role: the kernel's while a declined reboot is
    pending, the LUKS one when every argon2 device was explicitly accepted."""
    tolerated = []
    if reboot_required:
        tolerated += ["kernel_fips_running", "kernel_fips_not_running"]
    argon2 = _get(final, "luks", "argon2_keyslots", default={}) or {}
    if not set(argon2) - set(settings.get("luks_accept_argon2") or []):
        tolerated.append("luks_pbkdf2")
    return tolerated


def failed_checks(compliance, tolerated):
    """The checks that did not pass, one line each: layer, what, why, what to do. A tolerated
    check is excused only when it failed, never when it is unknown: unknown is never a pass."""
    lines = []
    for check in compliance or []:
        if check.get("passed"):
            continue
        if check.get("passed") is None or check.get("id") not in tolerated:
            lines.append("[%s] %s: %s%s. Remediation: %s" % (
                check.get("layer"), check.get("title"),
                "UNKNOWN, " if check.get("passed") is None else "", check.get("reason"),
                check.get("remediation")))
    return lines


# --- the outcome line ------------------------------------------------------------------------

def _pending_texts(settings):
    """(what to do about a pending reboot, what check mode predicts) for the reboot method."""
    method = settings.get("reboot_method")
    if method == "coordinator":
        signal = ("your fips_mode_reboot_signal_tasks" if settings.get("reboot_signal_tasks")
                  else settings.get("reboot_signal_path"))
        return ("signalled to the reboot coordinator (%s), which reboots the host when the "
                "cluster allows; the next run confirms it and withdraws the signal" % signal,
                "a reboot would then be signalled to the coordinator (%s)" % signal)
    if method == "never":
        return ("reboot the host (fips_mode_reboot_method is never)",
                "a reboot would then be required (fips_mode_reboot_method is never)")
    return ("reboot the host, or run again with fips_mode_reboot_ok: true",
            "a reboot would then be required (fips_mode_reboot_ok is false)")


def outcome(settings, changed_layers, reboot_required, rebooted, check_mode=False,
            signal_removed=False):
    """One line saying where the host stands after the role."""
    layers = ", ".join(changed_layers) or "nothing"
    state = settings.get("state")
    pending, would = _pending_texts(settings)
    if check_mode and changed_layers:
        then = "; would reboot" if rebooted else ("; " + would if reboot_required else "")
        return "check mode: would change %s%s" % (layers, then)
    if reboot_required:
        return ("FIPS mode will be %s at the next boot (changed: %s); PENDING REBOOT: %s"
                % (state, layers, pending))
    notes = "; rebooted" if rebooted else ""
    if signal_removed:
        notes += "; reboot signal %s removed" % settings.get("reboot_signal_path")
    return "FIPS mode is %s%s (changed: %s%s)" % (
        state, " and verified" if settings.get("verify") else "", layers, notes)


# --- the rollout ------------------------------------------------------------------------------

def rollout_stopped(host, failed_task, failed_msg, batch, reached, all_hosts):
    """Why ``host`` stops the rollout, as lines: the task and its message, the hosts never
    reached (neither in this batch nor through the role's preflight in an earlier one)."""
    why = failed_msg if isinstance(failed_msg, list) else [failed_msg or "failed"]
    lines = ['The rollout stopped at %s: the task "%s" failed.' % (host, failed_task or "?")]
    lines += [str(line) for line in why]
    untouched = [h for h in all_hosts if h not in reached and h not in batch]
    if untouched:
        lines.append("Not reached, left untouched: %s." % ", ".join(untouched))
    lines.append("Fix %s and run again: hosts that are done are only re-verified." % host)
    return lines
