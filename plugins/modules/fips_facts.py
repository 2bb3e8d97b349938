#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: fips_facts
short_description: Where a Flatcar host stands on FIPS mode, layer by layer
version_added: 0.1.0
description:
  - Returns C(ansible_facts.flatcar_fips) with, for each of the four layers of FIPS mode on Flatcar
    Container Linux, what is B(configured) on disk and what is B(effective) in the running system,
    and the verdict, RV(ansible_facts.flatcar_fips.status), per-check results and problems.
  - "One judge: the module on the host only reports what it found, and why it could not read
    something (RV(ansible_facts.flatcar_fips.errors)). The verdict is added on the controller by
    this module's action plugin from the compliance checks (C(data/compliance_checks.yml)), the
    same code that the role, the P(flatcar.fips.fips_compliance#filter) filter and the
    C(flatcar.fips.report) playbook use. A check whose data is missing is unknown, and unknown
    is never a pass: a host with an unknown check is never V(enabled)."
  - "kernel: C(/proc/sys/crypto/fips_enabled), C(/proc/cmdline), and the arguments the OEM
    C(grub.cfg) configures (read as GRUB evaluates it, the same parser as
    M(flatcar.fips.kernel_args))."
  - "OpenSSL: the version, whether C(fipsmodule.cnf) verifies against C(fips.so), what
    C(openssl.cnf) activates, and what the real C(openssl) does with it: the fips provider listed as
    C(active), MD5 refused, SHA-256 working."
  - "sshd: the effective algorithm lists (C(sshd -T)), the ones that are not FIPS-approved, the host
    keys and whether each is FIPS-usable, and the files sshd actually reads."
  - "LUKS: every LUKS device with the PBKDF of each keyslot, read from the headers directly; and
    whether cryptsetup runs in FIPS mode, asked of cryptsetup itself (its build flags, then the
    C(Running in FIPS mode.) line and the C([fips]) crypto backend it logs on an empty scratch
    file)."
  - "system: the distribution and release from C(os-release), whether UEFI Secure Boot is on, and
    whether this Flatcar release ignores the OEM C(grub.cfg) because of it (stable releases before
    3975.2.0); with O(reboot_signal_path), whether a reboot is signalled to the cluster's reboot
    coordinator there, and whether this collection signalled it."
  - Read-only, one module run per host, a handful of short commands. Never fails on a partial or
    non-Flatcar host; what cannot be known is C(null) with a reason in C(errors).
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
  action:
    support: full
    details: The verdict is computed on the controller (needs C(jmespath) there).
  bypass_host_loop:
    support: none
  async:
    support: none
options:
  gather:
    description: The layers to look at.
    type: list
    elements: str
    choices: [kernel, openssl, sshd, luks]
    default: [kernel, openssl, sshd, luks]
  earlier_read:
    description:
      - The C(flatcar_fips) facts of an earlier read of this host in the same run. The layers
        not in O(gather) are taken from it (with their C(errors)), so the facts and their verdict
        stay whole; C(read_again) in the result names the layers this run read.
      - The P(flatcar.fips.fips_mode#role) role passes its preflight's facts when it reads again
        only the layers it changed (no reboot).
      - Handled on the controller by the action plugin; never sent to the host.
    type: dict
  grub_cfg:
    description: The OEM C(grub.cfg). Defaults to C(/oem/grub.cfg), or C(/usr/share/oem/grub.cfg) on
      releases without C(/oem).
    type: path
  proc_cmdline:
    description: The running kernel's command line.
    type: path
    default: /proc/cmdline
  fips_enabled_path:
    description: The kernel's FIPS flag.
    type: path
    default: /proc/sys/crypto/fips_enabled
  openssl_cnf:
    description: The OpenSSL configuration.
    type: path
    default: /etc/ssl/openssl.cnf
  fipsmodule_cnf:
    description: The FIPS module configuration.
    type: path
    default: /etc/ssl/fipsmodule.cnf
  module:
    description: The FIPS provider; defaults to C(fips.so) in OpenSSL's modules directory.
    type: path
  openssl:
    description: The C(openssl) program; defaults to the one on C(PATH).
    type: path
  update_guard_script:
    description: The update guard script M(flatcar.fips.openssl_fips) installs.
    type: path
    default: /etc/flatcar-fips/fipsmodule-refresh
  update_guard_status_file:
    description: Where the update guard records its verdict of this boot.
    type: path
    default: /run/flatcar-fips/fipsmodule-refresh.status
  systemd_dir:
    description: Where M(flatcar.fips.openssl_fips) installs the update guard's unit and the link
      that enables it (C(sysinit.target.wants)); its option of the same name.
    type: path
    default: /etc/systemd/system
  system_fips_path:
    description: The C(/etc/system-fips) marker.
    type: path
    default: /etc/system-fips
  sshd_config:
    description: The main sshd configuration.
    type: path
    default: /etc/ssh/sshd_config
  sshd:
    description: The sshd program; defaults to C(sshd) on C(PATH) or in C(/usr/sbin).
    type: path
  passwd_file:
    description: Where users and home directories are read from, to find the users whose
      C(authorized_keys) hold no FIPS-usable key.
    type: path
    default: /etc/passwd
  ssh_users:
    description:
      - "Users whose public-key access is examined in detail, with sshd's effective settings for
        each (C(sshd -T -C user=NAME,host=localhost,addr=127.0.0.1), so C(Match User) blocks
        apply; when no file sshd reads has a C(Match) line, that is what C(sshd -T) printed,
        and it is not asked again): every C(AuthorizedKeysFile) with its tokens (C(%h),
        C(%u), C(%U), C(%%)), the keys with their SHA256 fingerprints, and
        C(AuthorizedKeysCommand) and C(TrustedUserCAKeys), which make the answer C(unknown)."
      - Reported in C(sshd.users). The P(flatcar.fips.fips_mode#role) role passes the user Ansible
        connects as and C(fips_mode_ssh_users).
    type: list
    elements: str
    default: []
  os_release:
    description: The C(os-release) file that names the distribution and release. By default
      C(/etc/os-release), or C(/usr/lib/os-release) when that does not exist, as os-release(5)
      says. A file that exists but cannot be read leaves C(flatcar) unknown (null), with the
      reason in C(errors).
    type: path
  secure_boot_efivar:
    description: The UEFI C(SecureBoot) variable (attributes, then one byte, 1 when on). Absent on
      BIOS machines and on UEFI firmware without Secure Boot (both read as off, as GRUB and the
      kernel read them), and when C(efivarfs) is not mounted on its directory (unknown, with the
      reason in C(errors)).
    type: path
    default: /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  luks_header_backup_dir:
    description: Where M(flatcar.fips.luks_pbkdf) keeps LUKS header backups; reported in
      C(luks.header_backups).
    type: path
    default: /var/lib/flatcar-fips/luks
  luks_devices:
    description: The devices (or image files) to look at for LUKS headers; by default every block
      device in C(/sys/class/block).
    type: list
    elements: path
  cryptsetup:
    description: The cryptsetup program; defaults to the one on C(PATH).
    type: path
  reboot_signal_path:
    description:
      - A reboot sentinel file that a cluster reboot coordinator watches (kured's default is
        C(/var/run/reboot-required)), reported in C(system.reboot_signal). Not read when omitted.
      - The P(flatcar.fips.fips_mode#role) role passes it with
        C(fips_mode_reboot_method=coordinator), to clear a signal it wrote once the host has
        rebooted.
    type: path
  plan:
    description:
      - "What the writer modules would change, decided on the host in the same module run: keys
        C(sshd), C(openssl) and C(kernel), each with options of M(flatcar.fips.sshd_crypto),
        M(flatcar.fips.openssl_fips) or M(flatcar.fips.kernel_args) (validated with that module's
        own argument spec). Each plan is the writer's own code run in check mode, so an empty plan
        is exactly what that module would have said; returned in RV(plan)."
      - A path option a plan does not set is the one this module reads (for example
        O(openssl_cnf), O(sshd_config), O(grub_cfg) as C(path)).
      - The P(flatcar.fips.fips_mode#role) role asks for its three plans here and calls a writer
        only for a layer whose plan is not empty, so a host already in the requested state costs
        one module round trip.
      - Planning takes the host-wide lock of the writers shared (it waits while one of them is
        changing the host) and runs what their check mode runs (C(sshd -T) and C(sshd -t) on the
        candidate, the C(openssl) checks); a command the facts read already ran is not run again.
        The C(sshd) plan reads what this OpenSSH supports from the cache M(flatcar.fips.sshd_crypto)
        keeps per C(ssh) binary (its O(flatcar.fips.sshd_crypto#module:supported_cache)), and
        asks C(ssh -Q) only without one.
    type: dict
notes:
  - Reading LUKS headers of block devices and C(sshd -T) need root (C(become)).
seealso:
  - module: flatcar.fips.kernel_args
  - module: flatcar.fips.openssl_fips
  - module: flatcar.fips.sshd_crypto
  - module: flatcar.fips.luks_pbkdf
"""

EXAMPLES = r"""
- name: Gather the FIPS state of the fleet
  flatcar.fips.fips_facts:

- name: Fail on hosts that are not fully in FIPS mode
  ansible.builtin.assert:
    that: ansible_facts.flatcar_fips.status == 'enabled'
    fail_msg: "{{ ansible_facts.flatcar_fips.problems | map(attribute='message') | list }}"

- name: Only the kernel and OpenSSL layers
  flatcar.fips.fips_facts:
    gather: [kernel, openssl]

- name: Read every layer and plan two writers in the same round trip
  flatcar.fips.fips_facts:
    plan:
      sshd: {state: fips}
      kernel: {present: [fips=1]}
  register: fips_read

- name: Call the writer only when its plan has work (or could not be made)
  flatcar.fips.kernel_args:
    present: [fips=1]
  when: fips_read.plan.kernel.changed is not false

# Ad hoc, for an auditor:
#   ansible flatcar -b -m flatcar.fips.fips_facts
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    flatcar_fips:
      description: The FIPS state of the host.
      returned: always
      type: complex
      contains:
        status:
          description:
            - From the compliance checks, on the controller. V(enabled) (every check passed),
              V(pending_reboot) (only the running kernel is not in FIPS mode yet), V(disabled)
              (neither C(fips=1) nor the OpenSSL configuration is there), V(unknown) (nothing
              failed, but something could not be known), V(partial) (anything else).
          type: str
          sample: pending_reboot
        layers:
          description: Per layer (system, kernel, openssl, sshd, luks) V(pass), V(fail) or
            V(unknown), from the checks of that layer.
          type: dict
        checks:
          description: Every check's result (see P(flatcar.fips.fips_compliance#filter)),
            C(passed) true, false or null (unknown) with the C(reason).
          type: list
          elements: dict
        problems:
          description: Every check that did not pass, as C({id, layer, result, message,
            remediation}); C(result) is V(fail) or V(unknown).
          type: list
          elements: dict
        kernel:
          description: C(fips_enabled) (1, 0 or null without kernel FIPS support),
            C(cmdline_args) (the kernel's arguments on C(/proc/cmdline); what follows C(--) is
            for init and is in C(init_args)), C(release) (the running kernel), C(configured_args),
            C(conditional_args), C(fips_configured), C(fips_running), C(reboot_pending),
            C(grub_cfg).
          type: dict
        openssl:
          description: >-
            C(version), C(module), C(module_present), C(fipsmodule_cnf) (present,
            verified, generated by this collection), C(openssl_cnf) (what it configures,
            C(default_provider_configured) among it), C(providers_active) and
            C(other_providers_active) (what C(openssl list -providers) lists, and those other than
            fips and base), C(provider_active), C(provider_version), C(md5_refused),
            C(sha256_works); C(provider_validation) (whether that provider version holds an
            active CMVP certificate, with C(status) V(pass), V(fail) or V(unknown), C(certificate),
            C(standard), C(reason), C(checked) the date of the collection's list; FIPS mode is
            not FIPS validation); C(module_storage) (whether C(fips.so) is on a dm-verity
            verified file system, as Flatcar's C(/usr): C(status), C(device), C(reason));
            C(update_guard) (C(installed): its script, its unit and the link that enables the
            unit are all there, so the guard runs at the next boot; C(missing): those of the
            three that are not, a dangling link counted as missing; C(accepts_unverified); and
            C(last_run) this boot:
            C(result) V(verified), V(regenerated), V(refused) or V(failed), with C(reason) and
            C(time)).
          type: dict
        system_fips_marker:
          description: Whether C(/etc/system-fips) exists.
          type: bool
        system:
          description: C(os_id), C(os_version) (C(VERSION_ID)), C(os_name), C(os_release) (the
            file they were read from, null when there is none), C(flatcar) (the distribution is
            Flatcar Container Linux; null when C(os-release) exists but cannot be read),
            C(secure_boot) (true, false, or null when
            unknown), C(oem_grub_cfg_ignored) (Secure Boot is on and this Flatcar release ignores
            the OEM C(grub.cfg)), and with O(reboot_signal_path) C(reboot_signal) (C(path),
            C(present), C(dir_present), C(by_collection) (its first line starts with
            C(flatcar.fips) and a colon, as the role writes it) and C(text) (its first line)).
          type: dict
        sshd:
          description: >-
            C(effective) lists by keyword, C(non_approved) by keyword, C(host_keys)
            (each with C(path), C(type), C(bits), C(fips_usable), C(public_key) as a
            known-hosts file holds it, and C(fingerprint)), C(include_effective) (files sshd
            reads), C(fips_drop_in) (the drop-in M(flatcar.fips.sshd_crypto) writes by default:
            C(path), and whether sshd C(read)s it), C(users_without_fips_key) (users whose
            C(authorized_keys) hold keys, none of them FIPS-usable), C(users) (per
            O(ssh_users): C(status) V(pass), V(fail) or V(unknown) with its C(reason),
            C(authorized_keys_files), C(keys), C(authorized_keys_command),
            C(trusted_user_ca_keys)), C(config_ok) (C(sshd -T) succeeded; null when that is
            not known, for example when the module does not run as root and sshd cannot load
            the host keys, with the reason in C(errors)) and C(config_error) (C(cause)
            V(runtime_directory), V(host_key_permissions), V(host_key), V(config) or V(other),
            and sshd's C(message)).
          type: dict
        luks:
          description: >-
            C(devices) with their keyslots, C(argon2_keyslots) by device,
            C(unreadable), C(header_backups) (the header backups M(flatcar.fips.luks_pbkdf) left
            in O(luks_header_backup_dir), each with C(path), C(uuid), C(device), C(mode) and the
            C(non_pbkdf2) keyslots it would bring back) and C(header_backups_non_pbkdf2) (by
            path, the backups that still hold argon2 keyslots, old passphrases with them).
          type: dict
        cryptsetup:
          description: >-
            Measured, not inferred: C(present), C(version), C(flags) (from C(cryptsetup --version)),
            C(fips_capable) (C(FIPS) among the flags), C(fips_mode) (V(true) when cryptsetup logs
            C(Running in FIPS mode.) or a C([fips]) crypto backend, V(false) when it logs another
            backend or is built without FIPS support, V(null) with the reason in C(errors)),
            C(backend) (the crypto backend line) and C(evidence) (what decided). cryptsetup 2.6 and
            newer follow OpenSSL's C(fips=yes) default property, older ones the kernel flag and
            C(/etc/system-fips).
          type: dict
        errors:
          description: Why a value is unknown, by layer.
          type: dict
        gathered:
          description: The layers that were gathered (with O(earlier_read), by either read).
          type: list
          elements: str
        read_again:
          description: With O(earlier_read), the layers this run read; the others come from
            the earlier read.
          returned: when O(earlier_read) is set
          type: list
          elements: str
        duration:
          description: Seconds the module spent on the host.
          type: float
plan:
  description: The plans asked for with O(plan), per layer.
  returned: when O(plan) is set
  type: dict
  contains:
    module:
      description: The writer module the plan is for.
      type: str
      sample: sshd_crypto
    changed:
      description: Whether that module would change anything; C(null) when it would fail
        (RV(plan.error)).
      type: bool
    files:
      description: The files it would write, create, replace or remove.
      type: list
      elements: str
    error:
      description: Why the plan could not be made (the module's own failure message), else C(null).
      type: str
    warnings:
      description: The warnings the module would give.
      type: list
      elements: str
    reboot_required:
      description: For C(kernel), whether the running kernel differs from the configured
        arguments (C(null) when unknown).
      type: bool
  sample:
    sshd: {module: sshd_crypto, changed: false, files: [], error: null, warnings: []}
    kernel: {module: kernel_args, changed: true, files: [/oem/grub.cfg], error: null,
             warnings: [], reboot_required: true}
commands:
  description: The programs this run started on the host (the cost of the read), and how many
    commands were answered from an earlier identical run in the same module run.
  returned: always
  type: dict
  contains:
    started:
      description: Processes started.
      type: int
    reused:
      description: Commands not run again because the same command already ran.
      type: int
    by_program:
      description: Processes started per program.
      type: dict
  sample: {started: 9, reused: 4, by_program: {openssl: 6, sshd: 1, cryptsetup: 2}}
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import (
    algorithms,
    cmvp,
    commands,
    cryptsetup_cli,
    files,
    fips_guard,
    grub_cfg,
    layers,
    luks2,
    openssl_cli,
    openssl_cnf,
    ssh_keys,
    verity,
)
from ansible_collections.flatcar.fips.plugins.module_utils import sshd_config as sc

LAYERS = list(layers.GATHERED)
# A file that is missing or unreadable is a fact here (null + a reason), never a failure.
read = files.read_text_if_readable
# Flatcar stable releases before this one skip the OEM grub.cfg when UEFI Secure Boot is on.
OEM_GRUB_SECURE_BOOT_FIXED = (3975, 2, 0)
# The first line of a reboot sentinel written by the fips_mode role (roles/fips_mode/vars).
REBOOT_SIGNAL_PREFIX = "flatcar.fips:"
# Present when the machine booted through UEFI.
EFI_DIR = "/sys/firmware/efi"
# os-release(5): /etc/os-release, and only when it does not exist /usr/lib/os-release
OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")


def parse_os_release(text):
    """``KEY=value`` lines of os-release(5), quotes removed."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
    return values


def version_tuple(version):
    """``"3975.2.0"`` -> ``(3975, 2, 0)``; anything unparsable sorts first."""
    try:
        return tuple(int(x) for x in (version or "").split("."))
    except ValueError:
        return (0,)


class Facts:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.errors = {}
        self.system_facts = {}

    def tool(self, name, given, opt_dirs=None):
        """The program's path, or None: a missing program is a fact here, never a failure."""
        path = given or self.module.get_bin_path(name, opt_dirs=opt_dirs or [])
        return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None

    def read(self, path, key):
        """The file's text; None when it is missing, or when it cannot be read (a FIFO, a
        directory, a symlink loop...), then with the reason in ``errors[key]``."""
        try:
            return files.read_text(path)
        except files.FileError as e:
            self.errors[key] = str(e)
            return None

    # --- system --------------------------------------------------------------------------

    def system(self):
        path = self.p["os_release"] or next(
            (p for p in OS_RELEASE_PATHS if os.path.exists(p)), OS_RELEASE_PATHS[0])
        text = self.read(path, "system.os_release")
        release = parse_os_release(text or "")
        os_id = release.get("ID")
        version = release.get("VERSION_ID")
        secure_boot = self.secure_boot(self.p["secure_boot_efivar"])
        # unreadable: which distribution this is is not known (null), not "not Flatcar"
        flatcar = None if "system.os_release" in self.errors else os_id == "flatcar"
        ignored = None
        if flatcar and secure_boot is not None:
            ignored = bool(secure_boot) and version_tuple(version) < OEM_GRUB_SECURE_BOOT_FIXED
        facts = dict(os_id=os_id, os_version=version, os_name=release.get("PRETTY_NAME"),
                     os_release=path if text is not None else None, flatcar=flatcar,
                     secure_boot=secure_boot, oem_grub_cfg_ignored=ignored)
        if self.p["reboot_signal_path"]:
            facts["reboot_signal"] = self.reboot_signal(self.p["reboot_signal_path"])
        return facts

    def secure_boot(self, efivar):
        """True or False, or None with the reason in ``errors``. A missing variable is off when
        the machine booted through BIOS, and on UEFI firmware without Secure Boot (efivarfs
        lists the firmware's variables, not this one): GRUB and the kernel read it so too."""
        try:
            data = files.read_bytes(efivar)
        except OSError as e:
            self.errors["system.secure_boot"] = "cannot read %s: %s" % (efivar, e.strerror or e)
            return None
        if data is not None:
            return len(data) >= 5 and data[4] == 1
        if not os.path.isdir(EFI_DIR):
            return False
        try:
            listed = bool(os.listdir(os.path.dirname(efivar)))
        except OSError:
            listed = False
        if listed:
            return False
        self.errors["system.secure_boot"] = (
            "%s is missing and %s lists no UEFI variables (efivarfs is not mounted there): "
            "cannot tell whether UEFI Secure Boot is on; mount it (mount -t efivarfs efivarfs "
            "%s)" % (efivar, os.path.dirname(efivar), os.path.dirname(efivar)))
        return None

    def reboot_signal(self, path):
        """A reboot coordinator's sentinel (kured: its existence is the signal)."""
        text = self.read(path, "system.reboot_signal") if os.path.lexists(path) else None
        first = (text or "").split("\n", 1)[0]
        return dict(path=path, present=os.path.lexists(path),
                    dir_present=os.path.isdir(os.path.dirname(path)),
                    by_collection=first.startswith(REBOOT_SIGNAL_PREFIX), text=first[:200])

    # --- kernel --------------------------------------------------------------------------

    def kernel(self):
        flag = self.read(self.p["fips_enabled_path"], "kernel.fips_enabled")
        fips_enabled = None
        if flag is None:
            self.errors.setdefault("kernel.fips_enabled", (
                "%s is missing: the kernel has no FIPS support (CONFIG_CRYPTO_FIPS)"
                % self.p["fips_enabled_path"]))
        else:
            fips_enabled = 1 if flag.strip() == "1" else 0
        cmdline = self.read(self.p["proc_cmdline"], "kernel.cmdline_args")
        cmdline_args = init_args = None
        if cmdline is not None:
            cmdline_args, init_args = grub_cfg.split_proc_cmdline(cmdline)
        path = self.p["grub_cfg"] or grub_cfg.default_path()
        configured = conditional = None
        text = self.read(path, "kernel.configured_args")
        try:
            if "kernel.configured_args" not in self.errors:  # unreadable: unknown, not absent
                cfg = grub_cfg.GrubCfg(text or "")
                configured, conditional = cfg.configured_args(), cfg.conditional_args()
        except grub_cfg.GrubCfgError as e:
            self.errors["kernel.configured_args"] = "%s %s" % (path, e)
        fips_configured = None if configured is None else "fips=1" in configured
        reboot_pending = None
        if fips_configured is not None and fips_enabled is not None:
            reboot_pending = fips_configured != (fips_enabled == 1)
        facts = dict(fips_enabled=fips_enabled, cmdline_args=cmdline_args, init_args=init_args,
                     release=os.uname().release,
                     configured_args=configured, conditional_args=conditional,
                     grub_cfg=path, grub_cfg_present=text is not None,
                     grub_cfg_dir_present=os.path.isdir(os.path.dirname(path)),
                     fips_configured=fips_configured, fips_running=fips_enabled == 1,
                     reboot_pending=reboot_pending)
        return facts

    # --- openssl -------------------------------------------------------------------------

    def openssl(self):
        facts = dict(version=None, module=None, module_present=None, fipsmodule_cnf={},
                     openssl_cnf={}, providers_active=None, other_providers_active=None,
                     provider_active=None, provider_version=None, md5_refused=None,
                     sha256_works=None, provider_validation=None, module_storage=None,
                     update_guard=None)
        openssl = openssl_cli.find(self.module, self.p["openssl"])
        if not openssl:
            self.errors["openssl"] = "openssl was not found (%s)" % (self.p["openssl"] or "PATH")
            return facts
        try:
            facts["version"] = openssl_cli.version(self.module, openssl)[0]
            fips_so = self.p["module"] or os.path.join(
                openssl_cli.modules_dir(self.module, openssl), "fips.so")
        except openssl_cli.OpenSSLRunError as e:
            self.errors["openssl"] = str(e)
            return facts
        facts["module"] = fips_so
        facts["module_present"] = os.path.isfile(fips_so)
        self.module_trust(facts)
        fm_path = self.p["fipsmodule_cnf"]
        fm_text = self.read(fm_path, "openssl.fipsmodule_cnf")
        ours = bool(fm_text and fm_text.startswith(openssl_cnf.GENERATED_MARKER))
        fm = dict(path=fm_path, present=fm_text is not None, verified=None,
                  generated_by_collection=ours)
        fipsmodule = None
        if fm_text is not None:
            try:
                fipsmodule = openssl_cnf.OpenSSLCnf(fm_text)
            except openssl_cnf.OpenSSLCnfError as e:
                self.errors["openssl.fipsmodule_cnf"] = "%s %s" % (fm_path, e)
            if facts["module_present"]:
                fm["verified"] = openssl_cli.fipsinstall_verify(self.module, openssl, fips_so,
                                                                fm_path)[0]
        facts["fipsmodule_cnf"] = fm
        cnf_path = self.p["openssl_cnf"]
        cnf_text = self.read(cnf_path, "openssl.openssl_cnf")
        if "openssl.openssl_cnf" in self.errors:
            # OpenSSL itself would block on a FIFO or fail: the effective state is unknown.
            facts["openssl_cnf"] = dict(path=cnf_path, present=None)
            return facts
        status = {}
        if cnf_text is not None:
            try:
                for included in openssl_cnf.OpenSSLCnf(cnf_text).included_files(
                        os.path.dirname(cnf_path)):
                    files.check_readable(included)
            except files.FileError as e:
                self.errors["openssl.openssl_cnf"] = "%s: an included file: %s" % (cnf_path, e)
                facts["openssl_cnf"] = dict(path=cnf_path, present=True)
                return facts
            except openssl_cnf.OpenSSLCnfError:
                pass  # reported below
            try:
                status = openssl_cnf.fips_status(openssl_cnf.OpenSSLCnf(cnf_text), fm_path,
                                                 fipsmodule, resolve=os.path.realpath)
            except openssl_cnf.OpenSSLCnfError as e:
                self.errors["openssl.openssl_cnf"] = "%s %s" % (cnf_path, e)
        facts["openssl_cnf"] = dict(
            path=cnf_path, present=cnf_text is not None, is_symlink=os.path.islink(cnf_path),
            activates_fips="fips" in status.get("activated", []),
            activates_base="base" in status.get("activated", []),
            default_provider_configured="default" in status.get("activated", []),
            includes_fipsmodule=status.get("includes_fipsmodule", False),
            default_properties_fips=status.get("default_properties_fips", False),
            config_diagnostics=status.get("config_diagnostics"),
            fips_configured=status.get("fips_enabled", False),
        )
        conf = cnf_path if cnf_text is not None else openssl_cli.EMPTY_CONF
        check = openssl_cli.check_config(self.module, openssl, conf)
        facts.update(providers_active=check["providers"],
                     other_providers_active=check["other_providers_active"],
                     provider_active=check["provider_active"],
                     provider_version=check["fips_provider_version"],
                     md5_refused=check["md5_refused"], sha256_works=check["sha256_works"],
                     provider_validation=cmvp.validation(check["fips_provider_version"]))
        return facts

    def module_trust(self, facts):
        """Where fips.so lives (dm-verity or not), and what the update guard did this boot."""
        if facts.get("module_present"):
            facts["module_storage"] = verity.storage(facts["module"], self.module.run_command,
                                                     self.module.get_bin_path)
        status_text = self.read(self.p["update_guard_status_file"], "openssl.update_guard")
        last = None
        if status_text is not None:
            last = {}
            for line in status_text.splitlines():
                key, sep, value = line.partition("=")
                if sep and key in ("result", "reason", "time"):
                    last[key] = value
        missing = [path for path in fips_guard.paths(self.p["update_guard_script"],
                                                     self.p["systemd_dir"])
                   if not os.path.exists(path)]
        facts["update_guard"] = dict(
            installed=not missing, missing=missing,
            accepts_unverified=bool(re.search(
                r"^ACCEPT_UNVERIFIED=1$", self.read(self.p["update_guard_script"],
                                                    "openssl.update_guard") or "", re.M)),
            last_run=last)

    def system_fips_marker(self):
        return os.path.lexists(self.p["system_fips_path"])

    # --- sshd ----------------------------------------------------------------------------

    def sshd(self):
        facts = dict(effective=None, non_approved=None, host_keys=None, include_effective=None,
                     fips_drop_in=None, users_without_fips_key=None, users=None, config_ok=None,
                     config_error=None)
        sshd = self.tool("sshd", self.p["sshd"], ["/usr/sbin"])
        if not sshd:
            self.errors["sshd"] = "sshd was not found (%s)" % (self.p["sshd"] or "PATH")
            return facts
        main = self.p["sshd_config"]
        cfg = None
        try:
            cfg = sc.Config(main, files.read_text)
            facts["include_effective"] = [p for p, m in cfg.reads if m is None or m == "all"]
            facts["fips_drop_in"] = dict(path=algorithms.DROP_IN,
                                         read=algorithms.DROP_IN in facts["include_effective"])
        except sc.SshdConfigError as e:
            self.errors["sshd.config"] = str(e)
        except files.FileError as e:
            # sshd -T would block on a FIFO, or fail: the effective state is unknown.
            self.errors["sshd.config"] = str(e)
            return facts
        rc, out, err = self.module.run_command([sshd, "-T", "-f", main])
        if rc != 0:
            message = (err or out).strip()
            cause = sc.classify_sshd_error(message)
            if cause == "host_key" and os.geteuid() != 0:
                # Not a verdict on the configuration: the host keys are root's to read.
                self.errors["sshd"] = (
                    "sshd -T -f %s ran as uid %d, not root, and could not load the host keys; "
                    "run fips_facts as root (become; ansible -b) to check sshd. sshd said: %s"
                    % (main, os.geteuid(), message))
                return facts
            facts["config_ok"] = False
            facts["config_error"] = dict(cause=cause, message=message)
            self.errors["sshd"] = "sshd -T -f %s failed (%s): %s" % (
                main, sc.SSHD_ERROR_CAUSES[cause], message)
            return facts
        facts["config_ok"] = True
        global_out = out
        raw = sc.parse_effective(out)
        facts["effective"] = effective = sc.algorithm_lists(raw, algorithms.KEYWORDS)
        bad = {k: algorithms.unapproved(k, v) for k, v in effective.items()}
        facts["non_approved"] = {k: names for k, names in bad.items() if names}
        facts["host_keys"] = ssh_keys.host_keys(sc.host_key_paths(raw),
                                                ssh_keys.keygen_public(self.module))
        passwd = self.read(self.p["passwd_file"], "sshd.passwd_file")
        facts["users_without_fips_key"] = ssh_keys.users_without_fips_key(
            passwd, ssh_keys.authorized_keys_patterns(raw), read)
        facts["users"] = {}
        conditional = cfg is None or cfg.conditional()
        for user in self.p["ssh_users"]:
            spec = "user=%s,host=localhost,addr=127.0.0.1" % user
            # without a Match block, sshd -T -C prints what sshd -T printed (Config.conditional)
            rc, out, err = (self.module.run_command([sshd, "-T", "-f", main, "-C", spec])
                            if conditional else (0, global_out, ""))
            if rc != 0:
                facts["users"][user] = dict(status="unknown", reason="sshd -T -C %s failed: %s"
                                            % (spec, (err or out).strip()))
                continue
            facts["users"][user] = ssh_keys.user_access(user, passwd, sc.parse_effective(out),
                                                        read)
        return facts

    # --- luks ----------------------------------------------------------------------------

    def luks(self):
        paths = self.p["luks_devices"] or luks2.block_devices()
        found, unreadable = luks2.scan(paths)
        devices = {}
        for path, header in found.items():
            devices[path] = dict(version=header["version"], uuid=header["uuid"],
                                 keyslots={s: d["kdf"] for s, d in header["keyslots"].items()},
                                 non_pbkdf2=luks2.non_pbkdf2(header))
        argon2 = {p: d["non_pbkdf2"] for p, d in devices.items() if d["non_pbkdf2"]}
        backups, bad = luks2.header_backups(self.p["luks_header_backup_dir"])
        by_uuid = {d["uuid"]: p for p, d in devices.items()}
        for backup in backups:
            backup["device"] = by_uuid.get(backup["uuid"])
        unreadable.update(bad)
        return dict(devices=devices, argon2_keyslots=argon2, unreadable=unreadable,
                    header_backups=backups,
                    header_backups_non_pbkdf2={b["path"]: b["non_pbkdf2"] for b in backups
                                               if b["non_pbkdf2"]})

    def cryptsetup(self):
        """Measured: cryptsetup says itself whether it runs in FIPS mode (cryptsetup_cli)."""
        tool = self.tool("cryptsetup", self.p["cryptsetup"])
        if not tool:
            self.errors["cryptsetup"] = "cryptsetup was not found"
            return dict(present=False, version=None, fips_mode=None)
        facts = cryptsetup_cli.mode(self.module, tool, scratch_dir=self.module.tmpdir)
        if facts["fips_mode"] is None:
            self.errors["cryptsetup"] = facts["reason"]
        facts.pop("reason")
        return dict(present=True, **facts)

    def run(self):
        started = time.monotonic()
        gathered = [layer for layer in LAYERS if layer in self.p["gather"]]
        facts = {"system": self.system()}
        self.system_facts = facts["system"]
        for layer in gathered:
            try:
                facts[layer] = getattr(self, layer)()
            except OSError as e:  # never fail the whole module for one layer
                self.errors[layer] = str(e)
                facts[layer] = None
        for layer in gathered:
            for key in layers.READ_WITH.get(layer, ()):
                facts[key] = getattr(self, key)()
        facts["errors"] = self.errors
        facts["gathered"] = gathered
        facts["duration"] = round(time.monotonic() - started, 3)
        return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather=dict(type="list", elements="str", choices=LAYERS, default=list(LAYERS)),
            earlier_read=dict(type="dict"),  # the action plugin's; it never reaches the host
            grub_cfg=dict(type="path"),
            proc_cmdline=dict(type="path", default="/proc/cmdline"),
            fips_enabled_path=dict(type="path", default="/proc/sys/crypto/fips_enabled"),
            openssl_cnf=dict(type="path", default="/etc/ssl/openssl.cnf"),
            fipsmodule_cnf=dict(type="path", default="/etc/ssl/fipsmodule.cnf"),
            module=dict(type="path"),
            openssl=dict(type="path"),
            system_fips_path=dict(type="path", default="/etc/system-fips"),
            update_guard_script=dict(type="path", default="/etc/flatcar-fips/fipsmodule-refresh"),
            update_guard_status_file=dict(
                type="path", default="/run/flatcar-fips/fipsmodule-refresh.status"),
            systemd_dir=dict(type="path", default="/etc/systemd/system"),
            sshd_config=dict(type="path", default="/etc/ssh/sshd_config"),
            sshd=dict(type="path"),
            passwd_file=dict(type="path", default="/etc/passwd", no_log=False),
            ssh_users=dict(type="list", elements="str", default=[]),
            os_release=dict(type="path"),
            secure_boot_efivar=dict(
                type="path",
                default="/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
            luks_devices=dict(type="list", elements="path"),
            luks_header_backup_dir=dict(type="path", default=luks2.HEADER_BACKUP_DIR),
            cryptsetup=dict(type="path"),
            reboot_signal_path=dict(type="path"),
            plan=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    planned = module.params["plan"] or {}
    if planned:
        # Why the noqa (ruff PLC0415, import outside the top level; the collection's only one):
        # plan.py, the three writers and the host-wide lock (changes.py) it loads cost the
        # emulated testbed host 0.15 s to import (python -X importtime in the guest; AnsiballZ
        # imports from a zip, so Python compiles them on every run, and zipimport's find_spec
        # compiles each once more to learn its file name), which an ad hoc read without a plan
        # must not pay. AnsiballZ ships the code either way; only the import is deferred, to the
        # runs that ask for a plan.
        from ansible_collections.flatcar.fips.plugins.module_utils import plan  # noqa: PLC0415
        unknown = sorted(set(planned) - set(plan.WRITERS))
        if unknown:
            module.fail_json(msg="plan: unknown layer %s; plans exist for %s."
                             % (", ".join(unknown), ", ".join(sorted(plan.WRITERS))))
    started = commands.share(module)
    result = dict(changed=False)
    if planned:
        facts, result["plan"] = plan.read_and_plan(module, Facts(module).run, planned)
    else:
        facts = Facts(module).run()
    result["commands"] = started.summary()
    result["ansible_facts"] = dict(flatcar_fips=facts)
    module.exit_json(**files.printable(result))


if __name__ == "__main__":
    main()
