#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: openssl_fips
short_description: Activate (or deactivate) the OpenSSL 3 FIPS provider on Flatcar
version_added: 0.1.0
description:
  - Configures OpenSSL 3 on a Flatcar Container Linux host to load only the FIPS provider (plus the
    base provider for encoders and decoders), with C(default_properties = fips=yes) so that
    programs and cryptsetup 2.6 or newer run in FIPS mode.
  - Edits C(openssl.cnf) in place and keeps everything it does not own (other sections, comments).
    When C(openssl.cnf) is a symlink into read-only C(/usr) (Flatcar LTS and older stables), the
    symlink is replaced by a regular file; it is never written through.
  - Keeps a C(fipsmodule.cnf) that verifies against C(fips.so) (Flatcar ships one, generated at
    image build, that follows OS updates); such a file is never rewritten. Generates it with
    C(openssl fipsinstall) only when it is missing, or when the file this module generated earlier
    no longer verifies (the OS update replaced C(fips.so)).
  - Refuses, changing nothing, when a C(fipsmodule.cnf) it did not generate no longer verifies,
    because C(fips.so) was modified or the host has not rebooted into an updated C(/usr). See
    O(regenerate_fipsmodule).
  - B(Validates before installing.) The candidate configuration is loaded by the real C(openssl)
    through C(OPENSSL_CONF); the fips provider must be listed with C(status) V(active), no
    provider other than fips and base may be active (an C(.include) elsewhere could re-activate
    C(default)), C(sha256) must work and C(md5) must be refused, or nothing is written and
    OpenSSL's own error is returned. Files it includes must be regular files (OpenSSL would
    block on a FIFO).
  - All or nothing. When any write of the task fails (the C(/etc/system-fips) marker or the
    update guard in a read-only directory, a full disk), every file already written is put back
    as it was, newest first, and the failure lists them in RV(rolled_back). The
    C(openssl.cnf.pre-fips) copy is written atomically and read back; a copy that cannot be
    restored (empty, unparsable, already a FIPS configuration) is never restored.
  - Survives OS updates. Where this module had to generate C(fipsmodule.cnf), the file is pinned in
    C(/etc) and would stop matching a C(fips.so) shipped by a later update; the module then
    installs a boot-time oneshot unit that re-verifies and regenerates it before sshd and other
    OpenSSL users start (O(update_guard)).
  - With O(state=disabled), restores the C(openssl.cnf) saved when FIPS mode was first enabled
    (byte for byte, a symlink as a symlink), else the distribution default; removes the files this
    module created; leaves a shipped C(fipsmodule.cnf) alone.
  - Every new OpenSSL process reads the configuration at once (sshd is socket-activated on
    Flatcar). Make sure sshd offers only FIPS-approved algorithms first
    (M(flatcar.fips.sshd_crypto)); a client that negotiates chacha20-poly1305 against sshd with
    the FIPS provider active is disconnected.
author:
  - flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - flatcar.fips.all_or_nothing
attributes:
  check_mode:
    support: full
    details:
      - Check mode runs the same validation against temporary copies outside the target
        directories and writes nothing on the host.
options:
  state:
    description:
      - V(enabled) configures and validates FIPS mode; V(disabled) restores the previous
        configuration.
    type: str
    choices: [enabled, disabled]
    default: enabled
  openssl_cnf:
    description: The OpenSSL configuration file (C(OPENSSLDIR)/openssl.cnf).
    type: path
    default: /etc/ssl/openssl.cnf
  fipsmodule_cnf:
    description:
      - The FIPS module configuration, included from O(openssl_cnf).
    type: path
    default: /etc/ssl/fipsmodule.cnf
  module:
    description:
      - The FIPS provider, C(fips.so).
      - Defaults to C(fips.so) in the directory OpenSSL loads providers from (C(openssl version -m),
        or C(OPENSSL_MODULES) when set); on Flatcar C(/usr/lib64/ossl-modules/fips.so).
      - OpenSSL loads the provider from that directory; a C(fips.so) elsewhere fails validation.
    type: path
  openssl:
    description: The C(openssl) program to validate with. Defaults to the one on C(PATH).
    type: path
  default_properties_fips:
    description:
      - Add C(alg_section) with C(default_properties = fips=yes). cryptsetup 2.6 and newer runs in
        FIPS mode (PBKDF2 only) only with it, and it keeps non-FIPS algorithms from being fetched
        even if another provider is loaded.
      - V(false) removes C(fips=yes) from C(default_properties) again.
    type: bool
    default: true
  system_fips_marker:
    description:
      - Manage O(system_fips_path) (an empty file that older tools, cryptsetup before 2.6 among
        them, read as "this system is in FIPS mode"). Created with V(enabled), removed with
        V(disabled).
    type: bool
    default: true
  system_fips_path:
    description: Where the marker lives.
    type: path
    default: /etc/system-fips
  regenerate_fipsmodule:
    description:
      - Also regenerate a C(fipsmodule.cnf) that this module did not generate (the one Flatcar
        ships) when it no longer verifies against O(module). This accepts the current C(fips.so) as
        genuine; the file is then pinned in C(/etc) and kept in step by the O(update_guard) unit.
      - Leave V(false) unless you know why the shipped file stopped verifying.
    type: bool
    default: false
  update_guard:
    description:
      - When this module generated O(fipsmodule_cnf), install a boot-time oneshot unit (and its
        script) that re-verifies the file against O(module) and regenerates it when an OS update
        replaced C(fips.so), ordered before C(sysinit.target) and so before sshd.
      - With a shipped O(fipsmodule_cnf) (Flatcar stable) no guard is installed, but one already
        there (a node provisioned with the config of P(flatcar.fips.ignition_config#filter),
        which carries it whether or not the release ships the file) is kept and kept current;
        it leaves a file that verifies alone.
      - Removed with V(disabled), or with O(update_guard=false).
    type: bool
    default: true
  update_guard_accept_unverified:
    description:
      - Let the update guard regenerate O(fipsmodule_cnf) at boot even when O(module) is not on a
        dm-verity verified file system. On Flatcar C(/usr) is, and a new C(fips.so) can only come
        with a signed update; elsewhere, regenerating would accept a C(fips.so) that may have
        been tampered with, so by default the guard refuses, logs why to the journal and leaves
        the provider failing its integrity check (which is what FIPS mode demands).
    type: bool
    default: false
  update_guard_status_file:
    description: Where the update guard records its last verdict (read by
      M(flatcar.fips.fips_facts)); on a tmpfs, so it describes the current boot.
    type: path
    default: /run/flatcar-fips/fipsmodule-refresh.status
  update_guard_script:
    description: Where the update guard script is installed.
    type: path
    default: /etc/flatcar-fips/fipsmodule-refresh
  systemd_dir:
    description: Where the update guard unit is installed and enabled (C(sysinit.target.wants)).
    type: path
    default: /etc/systemd/system
  distribution_openssl_cnf:
    description:
      - With V(disabled), when no configuration was saved at enable time, the first of these
        files that exists is restored (Flatcar keeps the default C(/etc) under
        C(/usr/share/flatcar/etc); LTS releases linked C(/etc/ssl/openssl.cnf) to
        C(/usr/share/ssl/openssl.cnf)).
    type: list
    elements: path
    default: [/usr/share/flatcar/etc/ssl/openssl.cnf, /usr/share/ssl/openssl.cnf]
  backup:
    description:
      - Create a backup file including the timestamp information so you can get the original file
        back if you somehow clobbered it incorrectly. Applies to O(openssl_cnf) and
        O(fipsmodule_cnf).
      - Independent of the copy of the original O(openssl_cnf) that V(enabled) always keeps at
        C(<openssl_cnf>.pre-fips) for V(disabled).
    type: bool
    default: false
notes:
  - Only C(fips) and C(base) stay in the providers section; other entries (C(default), C(legacy))
    are removed from it. Their own sections are left in the file.
  - The FIPS provider of OpenSSL 3.0 does not detect a modified C(fips.so) at load time when the
    configuration was regenerated for it; that is why a shipped C(fipsmodule.cnf) that stops
    verifying is reported, not silently regenerated.
seealso:
  - module: flatcar.fips.kernel_args
  - name: OpenSSL fips_module(7)
    description: How the FIPS provider is installed and configured.
    link: https://docs.openssl.org/3.0/man7/fips_module/
"""

EXAMPLES = r"""
- name: Put OpenSSL into FIPS mode
  flatcar.fips.openssl_fips:
  register: openssl

- name: Show what happened to each file
  ansible.builtin.debug:
    var: openssl.actions

- name: Leave FIPS mode again (restores the saved openssl.cnf)
  flatcar.fips.openssl_fips:
    state: disabled

- name: Enable without the fips=yes default property (cryptsetup stays out of FIPS mode)
  flatcar.fips.openssl_fips:
    default_properties_fips: false
    backup: true
"""

RETURN = r"""
actions:
  description: What happened (or, in check mode, would happen) to each managed item.
  returned: always
  type: dict
  contains:
    openssl_cnf:
      description: >-
        V(unchanged), V(updated), V(replaced_symlink) (a symlink replaced by a regular file),
        V(created), V(restored) (from the copy saved at enable time),
        V(restored_distribution_default).
      type: str
    fipsmodule_cnf:
      description: >-
        V(kept) (verifies; not touched), V(generated) (was missing), V(regenerated) (no longer
        verified), V(removed) (generated by this module; V(disabled)), V(absent).
      type: str
    system_fips:
      description: V(present), V(created), V(removed), V(absent), V(unmanaged).
      type: str
    update_guard:
      description: V(installed), V(present), V(removed), V(absent), V(disabled).
      type: str
  sample:
    openssl_cnf: updated
    fipsmodule_cnf: kept
    system_fips: created
    update_guard: absent
module_storage:
  description: Whether O(module) is on a dm-verity verified file system (C(status) V(pass),
    V(fail) or V(unknown), C(device), C(reason)), the condition under which the update guard
    regenerates O(fipsmodule_cnf) at boot without O(update_guard_accept_unverified).
  returned: when the update guard is installed or kept
  type: dict
  sample:
    status: pass
    device: /dev/mapper/usr
    reason: /usr/lib64/ossl-modules/fips.so is on /dev/mapper/usr, verified by dm-verity
openssl_cnf_changes:
  description: The settings changed in O(openssl_cnf).
  returned: always
  type: list
  elements: str
  sample: ["[openssl_init] providers = provider_sect", ".include /etc/ssl/fipsmodule.cnf"]
files_changed:
  description: Files written or removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/ssl/openssl.cnf, /etc/system-fips]
fipsmodule_verified:
  description: Whether O(fipsmodule_cnf), as it is (or would be) after the task, verifies against
    O(module) (C(openssl fipsinstall -verify)). C(null) with V(disabled).
  returned: always
  type: bool
fipsmodule_generated:
  description: Whether O(fipsmodule_cnf) was (or would be) generated by this task.
  returned: always
  type: bool
provider_active:
  description:
    - Whether, under the configuration in place after the task, C(openssl list -providers) shows
      the fips provider with C(status) V(active). In check mode, under the candidate configuration.
  returned: always
  type: bool
md5_refused:
  description: Whether C(openssl dgst -md5) fails under that configuration, as it must in FIPS mode.
  returned: always
  type: bool
openssl_version:
  description: The version of the C(openssl) program.
  returned: always
  type: str
  sample: 3.5.4
fips_provider_version:
  description: The version of the loaded FIPS provider, C(null) when it is not active.
  returned: always
  type: str
  sample: 3.0.22
module:
  description: The C(fips.so) used.
  returned: always
  type: str
  sample: /usr/lib64/ossl-modules/fips.so
rolled_back:
  description: On a failure after the first write, the files put back as they were.
  returned: failed after a write
  type: list
  elements: str
backup_files:
  description: Backup files created with O(backup=true), by the file they back up.
  returned: when O(backup=true) and a file was replaced
  type: dict
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import (
    changes as ch,
)
from ansible_collections.flatcar.fips.plugins.module_utils import (
    files,
    fips_guard,
    openssl_cli,
    openssl_cnf,
    verity,
)
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure
from ansible_collections.flatcar.fips.plugins.module_utils.fips_guard import GENERATED_HEADER

GENERATED_MARKER = openssl_cnf.GENERATED_MARKER
PRE_FIPS_SUFFIX = ".pre-fips"


class OpenSSLFips:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.changes = ch.Changes(module)
        self.actions = {}
        self.result = {}
        self._tmpdirs = []

    # --- helpers -------------------------------------------------------------------------

    def tmpdir(self):
        """A scratch directory for candidates under validation, in Ansible's temp dir: never
        in the target directories, so an interrupted run leaves nothing there."""
        path = tempfile.mkdtemp(prefix="flatcar-fips.", dir=self.module.tmpdir)
        self._tmpdirs.append(path)
        return path

    def cleanup(self):
        for path in self._tmpdirs:
            shutil.rmtree(path, ignore_errors=True)

    def read(self, path, what):
        try:
            return files.read_text(path)
        except files.FileError as e:
            raise Failure("Cannot read the %s: %s" % (what, e)) from e

    def parse(self, text, path, what):
        try:
            return openssl_cnf.OpenSSLCnf(text)
        except openssl_cnf.OpenSSLCnfError as e:
            raise Failure("Cannot parse the %s %s line %s: %s. OpenSSL would reject it too; "
                          "fix the file, then retry. Nothing was changed."
                          % (what, path, e.lineno, e.message), path=path, line=e.lineno) from e

    def diff(self, path, before, after):
        self.changes.diff(path, before, after)

    def write(self, path, text, mode=0o644, backup=False):
        self.changes.write(path, text, mode=mode, backup=backup and self.p["backup"])

    def remove(self, path):
        self.changes.remove(path)

    def scratch_file(self, name, text):
        """A candidate under validation, in a scratch directory outside the target dirs."""
        path = os.path.join(self.tmpdir(), name)
        with open(path, "wb") as f:
            f.write(files.encode(text))
        return path

    # --- discovery -----------------------------------------------------------------------

    def discover(self):
        openssl = openssl_cli.find(self.module, self.p["openssl"])
        if not openssl:
            raise Failure("The openssl program was not found%s. Install OpenSSL 3 or set the "
                          "openssl option." % (" at %s" % self.p["openssl"] if self.p["openssl"]
                                               else " on PATH"))
        self.openssl = openssl
        try:
            version, text = openssl_cli.version(self.module, openssl)
        except openssl_cli.OpenSSLRunError as e:
            raise Failure(str(e)) from e
        self.result["openssl_version"] = version
        if not version or int(version.split(".")[0]) < 3:
            raise Failure("%s is not OpenSSL 3 (%s): the FIPS provider needs OpenSSL 3.0 or newer."
                          % (openssl, text))
        fips_so = self.p["module"]
        if not fips_so:
            try:
                fips_so = os.path.join(openssl_cli.modules_dir(self.module, openssl), "fips.so")
            except openssl_cli.OpenSSLRunError as e:
                raise Failure(str(e)) from e
        self.fips_so = fips_so
        self.result["module"] = fips_so
        if os.path.isdir(fips_so):
            raise Failure("module %s is a directory, not the fips.so provider file." % fips_so)
        if not os.path.exists(fips_so):
            raise Failure("The FIPS provider %s does not exist: %s was built without the FIPS "
                          "provider (Configure enable-fips), or it lives elsewhere (set module). "
                          "Flatcar ships /usr/lib64/ossl-modules/fips.so on every channel."
                          % (fips_so, text))

    # --- fipsmodule.cnf ------------------------------------------------------------------

    def plan_fipsmodule(self):
        """Decide about fipsmodule.cnf; returns the path the candidate config must include
        for validation (a generated candidate lives in a temp dir until it is installed)."""
        path = self.p["fipsmodule_cnf"]
        text = self.read(path, "FIPS module configuration")
        self.fipsmodule_text = text
        self.fipsmodule_new = None
        ours = text is not None and text.startswith(GENERATED_MARKER)
        verified = False
        verify_output = ""
        if text is not None:
            self.parse(text, path, "FIPS module configuration")
            verified, verify_output = openssl_cli.fipsinstall_verify(
                self.module, self.openssl, self.fips_so, path)
        if verified:
            action = "kept"
        elif text is None:
            action = "generated"
        elif ours or self.p["regenerate_fipsmodule"]:
            action = "regenerated"
        else:
            raise Failure(
                "%s does not verify against %s (openssl fipsinstall -verify: %s). This module did "
                "not generate that file (Flatcar ships it with the image): either fips.so was "
                "modified, or the OS was updated and the host has not yet rebooted into the new "
                "/usr. Nothing was changed. Investigate; if fips.so is genuine, run again with "
                "regenerate_fipsmodule=true." % (path, self.fips_so, _short(verify_output)),
                path=path)
        self.actions["fipsmodule_cnf"] = action
        self.fipsmodule_ours = ours or action != "kept"
        include_path = path
        if action != "kept":
            scratch = self.tmpdir()
            raw = os.path.join(scratch, "fipsmodule.cnf.raw")
            try:
                openssl_cli.fipsinstall(self.module, self.openssl, self.fips_so, raw)
            except openssl_cli.OpenSSLRunError as e:
                raise Failure("Cannot generate %s: %s. Nothing was changed." % (path, e)) from e
            self.fipsmodule_new = GENERATED_HEADER + files.read_text(raw)
            include_path = self.scratch_file("fipsmodule.cnf", self.fipsmodule_new)
            self.diff(path, text, self.fipsmodule_new)
        self.result["fipsmodule_generated"] = action != "kept"
        final = self.fipsmodule_new if self.fipsmodule_new is not None else text
        self.fips_section = openssl_cnf.fips_section_of(
            self.parse(final, path, "FIPS module configuration")) or "fips_sect"
        return include_path

    # --- enabled -------------------------------------------------------------------------

    def enable(self):
        self.discover()
        path = self.p["openssl_cnf"]
        fipsmodule_path = self.p["fipsmodule_cnf"]
        include_path = self.plan_fipsmodule()
        is_link = os.path.islink(path)
        text = self.read(path, "OpenSSL configuration")
        cnf = self.parse(text or "", path, "OpenSSL configuration")
        # Decided on the file as it is, before enable_fips edits the parsed copy.
        is_fips_now = text is not None and openssl_cnf.fips_status(
            cnf, fipsmodule_path)["includes_fipsmodule"]
        for included in cnf.included_files(os.path.dirname(path)):
            if included != fipsmodule_path:
                try:
                    files.check_readable(included)
                except files.FileError as e:
                    raise Failure("%s includes %s, which OpenSSL cannot read safely: %s. "
                                  "Nothing was changed." % (path, included, e), path=path) from e
        changes = openssl_cnf.enable_fips(cnf, fipsmodule_path, self.fips_section,
                                          self.p["default_properties_fips"],
                                          resolve=os.path.realpath)
        new_text = cnf.render()
        self.result["openssl_cnf_changes"] = changes
        rewrite = new_text != (text or "") or is_link
        if not rewrite:
            action = "unchanged"
        elif is_link:
            action = "replaced_symlink"
        elif text is None:
            action = "created"
        else:
            action = "updated"
        self.actions["openssl_cnf"] = action

        # Validate the candidate with the real openssl before anything is installed.
        candidate_text = new_text
        if include_path != fipsmodule_path:
            ccnf = openssl_cnf.OpenSSLCnf(new_text)
            openssl_cnf.enable_fips(ccnf, include_path, self.fips_section,
                                    self.p["default_properties_fips"])
            candidate_text = ccnf.render()
        candidate = self.scratch_file("openssl.cnf", candidate_text)
        check = openssl_cli.check_config(self.module, self.openssl, candidate)
        if check["errors"]:
            raise Failure("The FIPS configuration does not work with this OpenSSL, so nothing "
                          "was changed: %s" % "; ".join(check["errors"]), validation=check)
        self.result.update(provider_active=check["provider_active"],
                           md5_refused=check["md5_refused"],
                           fips_provider_version=check["fips_provider_version"])
        self.result["fipsmodule_verified"] = True

        if rewrite:
            self.diff(path + (" (symlink to %s)" % os.readlink(path) if is_link else ""),
                      text, new_text)
        # install: fipsmodule.cnf first (openssl.cnf includes it), then openssl.cnf; a failure
        # of any later write rolls all of them back (changes.run).
        save = self.check_saved(path, is_fips_now) and rewrite and text is not None
        if self.fipsmodule_new is not None:
            self.write(fipsmodule_path, self.fipsmodule_new, backup=True)
        if rewrite:
            if save:
                # Keep the configuration as it was before FIPS mode, once, for state=disabled.
                self.changes.copy(path, path + PRE_FIPS_SUFFIX)
            self.write(path, new_text, backup=not is_link)
        self.manage_marker(True)
        # The guard is needed when this module generated fipsmodule.cnf. A guard that is already
        # there with a shipped file (a node provisioned by flatcar.fips.ignition_config, whose
        # config works whether or not the release ships one) is kept and kept current: it never
        # touches a shipped file that verifies, and creates one should a release stop shipping it.
        self.manage_guard(self.p["update_guard"]
                          and (self.fipsmodule_ours
                               or any(os.path.lexists(p) for p in fips_guard.paths(
                                   self.p["update_guard_script"], self.p["systemd_dir"]))))

    def saved_problem(self, saved):
        """Why the ``.pre-fips`` copy at ``saved`` cannot be restored, or None when it can.

        Earlier versions could leave a truncated copy on a full disk; restoring one would
        replace openssl.cnf with an empty file."""
        if os.path.islink(saved):
            return None if os.path.exists(saved) else "it is a dangling symlink"
        try:
            text = files.read_text(saved)
        except files.FileError as e:
            return str(e)
        if text is None:
            return "it does not exist"
        if not text.strip():
            return "it is empty"
        try:
            cnf = openssl_cnf.OpenSSLCnf(text)
        except openssl_cnf.OpenSSLCnfError as e:
            return "it does not parse (line %s: %s)" % (e.lineno, e.message)
        if openssl_cnf.fips_status(cnf, self.p["fipsmodule_cnf"])["includes_fipsmodule"]:
            return "it is already a FIPS configuration"
        return None

    def check_saved(self, path, is_fips_now):
        """Whether the current configuration is to be saved as ``.pre-fips``: it is not yet a
        FIPS one, and no usable copy exists. An unusable copy is removed (and replaced)."""
        saved = path + PRE_FIPS_SUFFIX
        if not os.path.lexists(saved):
            return not is_fips_now
        problem = self.saved_problem(saved)
        if problem is None:
            return False
        if is_fips_now:
            self.module.warn("%s cannot be restored later (%s); it is removed, and "
                             "state=disabled will restore the distribution default instead."
                             % (saved, problem))
        else:
            self.module.warn("%s cannot be restored later (%s); it is replaced by a copy of "
                             "the current %s." % (saved, problem, path))
        self.remove(saved)
        return not is_fips_now

    def manage_marker(self, want):
        if not self.p["system_fips_marker"]:
            self.actions["system_fips"] = "unmanaged"
            return
        path = self.p["system_fips_path"]
        exists = os.path.lexists(path)
        if want and not exists:
            self.actions["system_fips"] = "created"
            self.write(path, "")
        elif not want and exists:
            self.actions["system_fips"] = "removed"
            self.remove(path)
        else:
            self.actions["system_fips"] = "present" if exists else "absent"

    def manage_guard(self, want):
        script, systemd_dir = self.p["update_guard_script"], self.p["systemd_dir"]
        if not want:
            present = fips_guard.remove(self.changes, script, systemd_dir)
            self.actions["update_guard"] = "removed" if present else (
                "absent" if self.p["update_guard"] else "disabled")
            return
        # the file itself, not a link to it (Debian's modules directory links to /usr/lib64 in
        # the testbed): the guard checks and the unit waits for the real fips.so, and the text is
        # the same as what flatcar.fips.ignition_config renders for Flatcar's path
        module = os.path.realpath(self.fips_so)
        trust = verity.storage(self.fips_so, self.module.run_command, self.module.get_bin_path)
        self.result["module_storage"] = trust
        if trust["status"] != "pass" and not self.p["update_guard_accept_unverified"]:
            self.module.warn(" ".join((
                "The boot-time guard will not regenerate", self.p["fipsmodule_cnf"], "after",
                self.fips_so, "changes:", trust["reason"] + ". That is right unless this storage",
                "is trusted; set update_guard_accept_unverified: true to accept it.")))
        changed = fips_guard.install(
            self.changes, lambda path: self.read(path, "update guard file"), script, systemd_dir,
            fips_guard.script(self.openssl, module, self.p["fipsmodule_cnf"],
                              self.p["update_guard_status_file"],
                              self.p["update_guard_accept_unverified"]),
            fips_guard.unit(module, script))
        self.actions["update_guard"] = "installed" if changed else "present"

    # --- disabled ------------------------------------------------------------------------

    def disable(self):
        path = self.p["openssl_cnf"]
        fipsmodule_path = self.p["fipsmodule_cnf"]
        saved = path + PRE_FIPS_SUFFIX
        text = self.read(path, "OpenSSL configuration")
        self.result["openssl_cnf_changes"] = []
        effective = path  # the configuration in place after the task (for the report)
        problem = self.saved_problem(saved) if os.path.lexists(saved) else None
        if problem is not None:
            self.module.warn("%s is not restored (%s); it is removed." % (saved, problem))
            self.remove(saved)
        if os.path.lexists(saved) and problem is None:
            effective = saved if self.check else path
            restored = os.readlink(saved) if os.path.islink(saved) else None
            saved_text = self.read(saved, "saved OpenSSL configuration")
            self.actions["openssl_cnf"] = "restored"
            self.diff(path, text, saved_text if restored is None
                      else "(symlink to %s)\n" % restored)
            if self.p["backup"] and os.path.isfile(path) and not self.check:
                self.changes.backup(path)
            self.changes.rename(saved, path)
        else:
            cnf = self.parse(text or "", path, "OpenSSL configuration")
            status = openssl_cnf.fips_status(cnf, fipsmodule_path, resolve=os.path.realpath)
            is_fips = status["includes_fipsmodule"] or "fips" in status["providers"]
            if text is not None and is_fips:
                default = next((p for p in self.p["distribution_openssl_cnf"]
                                if os.path.isfile(p)), None)
                if default is None:
                    raise Failure("%s is a FIPS configuration, no copy was saved when FIPS mode "
                                  "was enabled (%s is missing) and no distribution default "
                                  "exists (%s). Restore it by hand. Nothing was changed."
                                  % (path, saved,
                                     ", ".join(self.p["distribution_openssl_cnf"])))
                default_text = self.read(default, "distribution OpenSSL configuration")
                effective = default if self.check else path
                self.actions["openssl_cnf"] = "restored_distribution_default"
                self.diff(path, text, default_text)
                self.write(path, default_text, backup=True)
            else:
                self.actions["openssl_cnf"] = "unchanged"
        fips_text = self.read(fipsmodule_path, "FIPS module configuration")
        if fips_text is not None and fips_text.startswith(GENERATED_MARKER):
            self.actions["fipsmodule_cnf"] = "removed"
            self.diff(fipsmodule_path, fips_text, "")
            self.remove(fipsmodule_path)
        else:
            self.actions["fipsmodule_cnf"] = "kept" if fips_text is not None else "absent"
        self.manage_marker(False)
        self.manage_guard(False)
        self.result.update(fipsmodule_verified=None, fipsmodule_generated=False,
                           fips_provider_version=None)
        self.report_after_disable(effective)

    def report_after_disable(self, conf):
        """What OpenSSL does under the configuration left in place (in check mode: the one
        that would be). Best effort: reporting never fails the task."""
        openssl = openssl_cli.find(self.module, self.p["openssl"])
        self.result.update(openssl_version=None, module=self.p["module"], provider_active=False,
                           md5_refused=False)
        if not openssl:
            return
        try:
            self.result["openssl_version"] = openssl_cli.version(self.module, openssl)[0]
        except openssl_cli.OpenSSLRunError:
            return
        if os.path.exists(conf):
            check = openssl_cli.check_config(self.module, openssl, conf)
            self.result.update(provider_active=check["provider_active"],
                               md5_refused=check["md5_refused"],
                               fips_provider_version=check["fips_provider_version"])

    # --- run -----------------------------------------------------------------------------

    def run(self):
        try:
            if self.p["state"] == "enabled":
                self.enable()
            else:
                self.disable()
        finally:
            self.cleanup()
        result = dict(self.result)
        result.update(self.changes.result())
        result["actions"] = self.actions
        result.setdefault("openssl_cnf_changes", [])
        return result


def _short(text, n=3):
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            openssl_cnf=dict(type="path", default="/etc/ssl/openssl.cnf"),
            fipsmodule_cnf=dict(type="path", default="/etc/ssl/fipsmodule.cnf"),
            module=dict(type="path"),
            openssl=dict(type="path"),
            default_properties_fips=dict(type="bool", default=True),
            system_fips_marker=dict(type="bool", default=True),
            system_fips_path=dict(type="path", default="/etc/system-fips"),
            regenerate_fipsmodule=dict(type="bool", default=False),
            update_guard=dict(type="bool", default=True),
            update_guard_accept_unverified=dict(type="bool", default=False),
            update_guard_status_file=dict(type="path",
                                          default="/run/flatcar-fips/fipsmodule-refresh.status"),
            update_guard_script=dict(type="path",
                                     default="/etc/flatcar-fips/fipsmodule-refresh"),
            systemd_dir=dict(type="path", default="/etc/systemd/system"),
            distribution_openssl_cnf=dict(
                type="list", elements="path",
                default=["/usr/share/flatcar/etc/ssl/openssl.cnf", "/usr/share/ssl/openssl.cnf"]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    runner = OpenSSLFips(module)
    ch.run(module, runner.changes, runner.run, lambda: dict(actions=runner.actions))


if __name__ == "__main__":
    main()
