# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What M(flatcar.fips.openssl_fips) does: find OpenSSL and fips.so, decide fipsmodule.cnf,
openssl.cnf, /etc/system-fips and the update guard, validate with the real openssl, apply
through ``changes.Changes``. ``fips_facts`` runs the same code in check mode for its plan.

Standard library only: runs on the managed host.
"""

import os
import shutil
import tempfile

from ansible_collections.flatcar.fips.plugins.module_utils import (
    changes as ch,
)
from ansible_collections.flatcar.fips.plugins.module_utils import (
    files,
    fips_guard,
    fipsmodule,
    openssl_cli,
    openssl_cnf,
    verity,
)
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure

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
        self.openssl, version, _text, self.fips_so = fipsmodule.find_provider(
            self.module, self.p["openssl"], self.p["module"])
        self.result.update(openssl_version=version, module=self.fips_so)

    # --- fipsmodule.cnf ------------------------------------------------------------------

    def plan_fipsmodule(self):
        """Decide about fipsmodule.cnf; returns the path the candidate config must include
        for validation (a generated candidate lives in a temp dir until it is installed)."""
        path = self.p["fipsmodule_cnf"]
        text = self.read(path, "FIPS module configuration")
        self.fipsmodule_new = None
        verified, verify_output = False, ""
        if text is not None:
            self.parse(text, path, "FIPS module configuration")
            verified, verify_output = openssl_cli.fipsinstall_verify(
                self.module, self.openssl, self.fips_so, path)
        action = fipsmodule.decide(path, text, verified, verify_output, self.fips_so,
                                   self.p["regenerate_fipsmodule"])
        self.actions["fipsmodule_cnf"] = action
        self.fipsmodule_ours = action != "kept" or text.startswith(GENERATED_MARKER)
        include_path = path
        if action != "kept":
            self.fipsmodule_new = fipsmodule.generate(self.module, self.openssl, self.fips_so,
                                                      path, self.tmpdir())
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
        # Nothing to change: the candidate is the file in place, byte for byte, so the file in
        # place is what is checked (fips_facts' plan then reuses the checks its read ran).
        if not rewrite and include_path == fipsmodule_path:
            candidate = path
        else:
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
            (self.enable if self.p["state"] == "enabled" else self.disable)()
        finally:
            self.cleanup()
        result = dict(self.result)
        result.update(self.changes.result())
        result["actions"] = self.actions
        result.setdefault("openssl_cnf_changes", [])
        return result


def argument_spec():
    """The module's options (a new dict on each call); the plan in fips_facts validates
    its own copy of them with it."""
    return dict(
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
    )
