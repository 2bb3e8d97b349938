# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy a controller file to a host that has no Python (see plugins/modules/raw_copy.py)."""

import os
import shlex
import uuid

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.flatcar.fips.plugins.module_utils import files

ARGS = dict(
    src=dict(type="path", required=True),
    dest=dict(type="str", required=True),
    sha256=dict(type="str"),
    mode=dict(type="str", default="0644"),
)


class ActionModule(ActionBase):
    """Only the connection (put_file) and the host's shell: sha256sum, mkdir, mv, chmod."""

    TRANSFERS_FILES = True
    _supports_check_mode = True

    def _sh(self, cmd, sudoable=True):
        res = self._low_level_execute_command(cmd, sudoable=sudoable)
        return res.get("rc"), res.get("stdout", ""), res.get("stderr", "")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=ARGS)
        src = os.path.expanduser(args["src"])
        if not os.path.isfile(src):
            raise AnsibleActionFail("raw_copy: %s is not a file on the controller" % src)
        digest = files.sha256_file(src)
        if args["sha256"] and args["sha256"].lower() != digest:
            raise AnsibleActionFail("raw_copy: %s has SHA-256 %s, not the expected %s; nothing "
                                    "was copied" % (src, digest, args["sha256"].lower()))
        dest = args["dest"]
        if not os.path.isabs(dest) or not args["mode"].isdigit():
            raise AnsibleActionFail("raw_copy: dest must be an absolute path and mode octal")
        q = shlex.quote
        rc, out, _err = self._sh("sha256sum %s 2>/dev/null" % q(dest))
        result.update(dest=dest, sha256=digest, size=os.path.getsize(src))
        if rc == 0 and out.split()[:1] == [digest]:
            result["changed"] = False
            return result
        result["changed"] = True
        if self._task.check_mode:
            return result
        # Upload as the connection user into Ansible's own remote temporary directory (made with
        # the shell, no Python), then move into place with become (when the task has it).
        tmpdir = self._make_tmp_path()
        staging = self._connection._shell.join_path(tmpdir, "raw_copy-%s" % uuid.uuid4().hex)
        try:
            self._connection.put_file(src, staging)
        except Exception as e:  # any transfer failure ends the task, with its cause
            self._remove_tmp_path(tmpdir)
            raise AnsibleActionFail("raw_copy: uploading %s to %s failed: %s"
                                    % (src, staging, e)) from e
        part = "%s.part-%s" % (dest, uuid.uuid4().hex[:8])
        script = (
            "set -e; trap 'rm -f {stg} {part}' EXIT; "
            "[ \"$(sha256sum {stg} | cut -d' ' -f1)\" = {sha} ] || "
            "{{ echo 'the upload does not match its SHA-256' >&2; exit 3; }}; "
            "mkdir -p {dir}; cp {stg} {part}; chmod {mode} {part}; "
            "[ \"$(sha256sum {part} | cut -d' ' -f1)\" = {sha} ] || "
            "{{ echo 'the copy does not match its SHA-256' >&2; exit 3; }}; "
            "mv -f {part} {dest}"
        ).format(stg=q(staging), part=q(part), sha=q(digest), dir=q(os.path.dirname(dest)),
                 mode=q(args["mode"]), dest=q(dest))
        rc, out, err = self._sh("sh -c %s" % q(script))
        self._remove_tmp_path(tmpdir)
        if rc != 0:
            raise AnsibleActionFail("raw_copy: installing %s as %s failed (rc %s): %s" % (
                src, dest, rc, (err or out).strip()))
        return result
