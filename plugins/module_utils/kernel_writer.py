# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What M(flatcar.fips.kernel_args) does: edit the kernel arguments of the OEM grub.cfg (as GRUB
evaluates it), say whether a reboot is required, validate with grub-script-check, apply
through ``changes.Changes``. ``fips_facts`` runs the same code in check mode for its plan.

Standard library only: runs on the managed host.
"""

import errno
import os

from ansible_collections.flatcar.fips.plugins.module_utils import files, grub_cfg
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure


def read_running(path):
    try:
        data = files.read_bytes(path)
    except files.FileError:
        return None
    if data is None:
        return None
    return grub_cfg.split_proc_cmdline(data.decode("utf-8", "replace"))[0]


def reboot_required(configured, running, present, absent):
    if running is None:
        return None
    for arg in present:
        if (arg in configured) != (arg in running):
            return True
    for word in running:
        if grub_cfg.matches_absent(word, absent) and word not in configured:
            return True
    # a running value of a present key that the configuration replaced
    keys = {grub_cfg.arg_key(p) for p in present}
    for word in running:
        if grub_cfg.arg_key(word) in keys and word not in present and word not in configured:
            return True
    return False


class KernelArgs:
    def __init__(self, module, changes):
        self.module = module
        self.changes = changes
        self.present = module.params["present"]
        self.absent = module.params["absent"]
        self.given = module.params["path"] or grub_cfg.default_path()
        self.path = os.path.realpath(self.given)

    def fail(self, msg, line=None):
        raise Failure(msg, path=self.path, line=line)

    def run(self):
        present, absent, path = self.present, self.absent, self.path
        for item in present + absent:
            problem = grub_cfg.validate_arg(item)
            if problem:
                self.fail("Invalid kernel argument: %s. Nothing was changed." % problem)
        if os.path.lexists(self.given) and not os.path.exists(self.given):
            try:
                os.stat(self.given)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    self.fail("%s is a symlink loop. Nothing was changed; point path at the OEM "
                              "grub.cfg." % self.given)
            self.fail("%s is a dangling symlink (to %s): refusing to create a file where it "
                      "points. Nothing was changed; point path at the OEM grub.cfg."
                      % (self.given, os.readlink(self.given)))
        try:
            text = files.read_text(path)
        except files.FileError as e:
            self.fail("%s. Nothing was changed; point path at the OEM grub.cfg." % e)
        created = text is None
        # Removing from a file that is not there changes nothing; adding needs the OEM partition.
        if created and present and not os.path.isdir(os.path.dirname(path)):
            self.fail("%s does not exist and neither does its directory %s: is the OEM partition "
                      "mounted? Nothing was changed." % (path, os.path.dirname(path)))
        try:
            cfg = grub_cfg.GrubCfg(text or "")
            edit = cfg.edit(present, absent)
        except grub_cfg.GrubCfgError as e:
            where = path if e.lineno is None else "%s line %d" % (path, e.lineno)
            line = ""
            if e.lineno is not None:
                line = " (%s)" % cfg_line(text, e.lineno)
            self.fail("Cannot safely rewrite %s%s: %s. Nothing was changed."
                      % (where, line, e.message), line=e.lineno)
        except ValueError as e:
            self.fail("Invalid kernel arguments: %s. Nothing was changed." % e)

        running = read_running(self.module.params["proc_cmdline"])
        result = dict(
            path=path,
            created=created and edit.changed,
            args_configured=edit.configured_args,
            args_conditional=edit.conditional_args,
            args_running=running,
            args_added=edit.added,
            args_removed=edit.removed,
            reboot_required=reboot_required(edit.configured_args, running, present, absent),
        )
        if running is None:
            self.module.warn("Cannot read %s: reboot_required is unknown."
                             % self.module.params["proc_cmdline"])
        if edit.changed:
            self.write(edit.text, text, created, result)
        result.update(self.changes.result())
        if "diff" in result:  # one file: one diff, as before
            result["diff"] = result["diff"][0]
        if "backup_files" in result:
            result["backup_file"] = result.pop("backup_files")[path]
        return result

    def write(self, new_text, text, created, result):
        path = self.path
        self.changes.diff(path, text, new_text,
                          header="%s%s" % (path, " (absent)" if created else ""))
        checker = self.module.get_bin_path("grub-script-check")
        # What the candidate has been checked with (in check mode, only the parser ran).
        validated = ["parser"]
        result["validated_with"] = validated

        def validate(tmp):
            rc, out, err = self.module.run_command([checker, tmp])
            if rc != 0:
                raise Failure("grub-script-check rejected the new %s: %s. Nothing was changed."
                              % (path, (err or out).strip()), path=path)
            validated.append("grub-script-check")

        self.changes.write(path, new_text, mode=0o644, backup=self.module.params["backup"],
                           replace_link=False, validate=validate if checker else None)


def cfg_line(text, lineno):
    lines = files.split_lines(text or "")
    if 0 < lineno <= len(lines):
        return lines[lineno - 1][0].strip()
    return ""


def argument_spec():
    """The module's options (a new dict on each call); the plan in fips_facts validates
    its own copy of them with it."""
    return dict(
        present=dict(type="list", elements="str", default=[]),
        absent=dict(type="list", elements="str", default=[]),
        path=dict(type="path"),
        backup=dict(type="bool", default=False),
        proc_cmdline=dict(type="path", default="/proc/cmdline"),
    )
