# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Will the controller still trust, and still be let in by, a host once its sshd is in FIPS mode?
(see plugins/modules/ssh_trust.py)"""

import os

from ansible.errors import AnsibleActionFail

from ansible_collections.flatcar.fips.plugins.module_utils import ssh_keys
from ansible_collections.flatcar.fips.plugins.plugin_utils import known_hosts as kh
from ansible_collections.flatcar.fips.plugins.plugin_utils.controller_action import ControllerAction

ARGS = dict(
    host_keys=dict(type="list", elements="dict", required=True),
    generated_host_public_key=dict(type="str"),
    will_generate_host_key=dict(type="bool", default=False),
    user_access=dict(type="dict"),
    learn=dict(type="bool", default=False),
    remove_stale=dict(type="bool", default=False),
    known_hosts_file=dict(type="path"),
)


def _pub_of(path):
    """The public key of a private key file: its ``.pub``, else ``ssh-keygen -y`` (which works
    for a key without a passphrase); None when neither says."""
    try:
        with open(path + ".pub", encoding="utf-8", errors="replace") as f:
            return ssh_keys.describe(f.read())
    except OSError:
        pass
    try:
        rc, out, _err = kh.run(["ssh-keygen", "-y", "-P", "", "-f", path])
    except kh.TrustError:
        return None
    return ssh_keys.describe(out) if rc == 0 else None


def _agent_keys():
    if not os.environ.get("SSH_AUTH_SOCK"):
        return []
    try:
        rc, out, _err = kh.run(["ssh-add", "-L"])
    except kh.TrustError:
        return []
    if rc != 0:
        return []
    return [k for k in (ssh_keys.describe(line) for line in out.splitlines()) if k]


def client_key(cfg, user_access, password, private_key_content):
    """Which keys the client would offer, and whether one of them is FIPS-usable and authorized
    for the user on the host: ``{status, reason, candidates}``."""
    candidates = []
    unknown = []
    for entry in cfg.get("identityfile", []):
        path = os.path.expanduser(entry)
        if not os.path.exists(path):
            continue
        info = _pub_of(path)
        if info:
            candidates.append(dict(info, source=path))
        else:
            unknown.append("%s (no .pub beside it, and ssh-keygen -y cannot read it without its "
                           "passphrase)" % path)
    for info in _agent_keys():
        candidates.append(dict(info, source="ssh-agent"))
    if private_key_content:
        unknown.append("the private key given as content (private_key)")
    authorized = None
    if user_access and user_access.get("status") in ("pass", "fail"):
        authorized = {k.get("fingerprint") for k in user_access.get("keys", [])}
    for c in candidates:
        c["authorized"] = None if authorized is None else c["fingerprint"] in authorized
    usable = [c for c in candidates if c["fips_usable"]]
    proven = [c for c in usable if c["authorized"]]
    if proven:
        return dict(status="pass", candidates=candidates, reason="%s (%s %s) is FIPS-usable and in "
                    "the user's authorized keys" % (proven[0]["source"], proven[0]["type"],
                                                    proven[0]["fingerprint"]))
    if password and not candidates:
        return dict(status="pass", candidates=candidates,
                    reason="Ansible logs in with a password, which FIPS mode does not change")
    if usable and authorized is None:
        return dict(status="unknown", candidates=candidates, reason=(
            "%s is FIPS-usable, but whether sshd accepts it for the user cannot be known (%s)"
            % (usable[0]["source"], (user_access or {}).get("reason")
               or "the user's authorized keys were not read")))
    if unknown:
        return dict(status="unknown", candidates=candidates, reason=(
            "the key Ansible connects with cannot be examined: %s. Put the public key beside it "
            "(KEY.pub) or load it into ssh-agent" % "; ".join(unknown)))
    if not candidates:
        return dict(status="unknown", candidates=candidates,
                    reason="no key the client would offer was found (identity files: %s)"
                    % ", ".join(cfg.get("identityfile", [])))
    if usable:
        return dict(status="fail", candidates=candidates, reason=(
            "none of the FIPS-usable keys the client offers (%s) is in the user's authorized "
            "keys" % ", ".join("%s %s" % (c["source"], c["fingerprint"]) for c in usable)))
    return dict(status="fail", candidates=candidates, reason=(
        "the client offers only keys that sshd refuses in FIPS mode (%s): connect with an ECDSA "
        "or RSA (>= 2048 bits) key that is in the user's authorized keys" % ", ".join(
            "%s: %s" % (c["source"], c["type"]) for c in candidates)))


class ActionModule(ControllerAction):
    """Runs on the controller, as the user who runs Ansible, with the host's connection
    settings; it never connects to the host."""

    _supports_diff = True
    ARGS = ARGS

    def decide(self, args, task_vars, result):
        conn = self._connection
        transport = getattr(conn, "transport", None) or ""
        if transport.split(".")[-1] == "local" or task_vars.get("ansible_connection") == "local":
            na = dict(status="pass", reason="the connection is local: no SSH involved")
            result.update(changed=False, host_key=dict(na), client_key=dict(na))
            return result
        if transport.split(".")[-1] != "ssh":
            reason = ("the %s connection keeps its own host keys and client keys; only the "
                      "ssh connection plugin's are examined" % transport)
            result.update(changed=False, host_key=dict(status="unknown", reason=reason),
                          client_key=dict(status="unknown", reason=reason))
            return result

        def opt(name):
            try:
                return conn.get_option(name)
            except KeyError:
                return None

        ssh = opt("ssh_executable") or "ssh"
        host = opt("host") or self._play_context.remote_addr
        argv = kh.client_args(opt("ssh_args"), opt("host_key_checking"), opt("port"),
                              opt("private_key_file"), opt("remote_user"),
                              opt("ssh_common_args"), opt("ssh_extra_args"))
        try:
            cfg = kh.client_config(ssh, argv, host)
            name = kh.lookup_name(cfg)
            files = kh.known_hosts_files(cfg)
            known = kh.lookup("ssh-keygen", name, files)
        except kh.TrustError as e:
            raise AnsibleActionFail("ssh_trust: %s" % e) from e
        password = bool(opt("password") or self._play_context.password)

        offered = [k.get("public_key") for k in args["host_keys"]
                   if k.get("fips_usable") and k.get("public_key")]
        if args["generated_host_public_key"]:
            offered.append(args["generated_host_public_key"].strip())
        before = kh.judge(cfg, known, offered, password)
        target = args["known_hosts_file"] or (files[0] if files else None)
        host_key = dict(before, status_before=before["status"], name=name,
                        strict_host_key_checking=kh.strict_checking(cfg),
                        known_hosts_files=files, known_hosts_file=target, known=known,
                        offered_after=offered, learned=[], removed=[])
        if args["will_generate_host_key"] and before["status"] != "pass" and args["learn"]:
            host_key.update(status="pass", reason=(
                "the ECDSA host key sshd_crypto generates will be added to %s right after it is "
                "created, before the next connection" % target))
        changed = False
        plain = [k for k in known if not k["marker"]]
        checking = kh.strict_checking(cfg) in kh.STRICT
        if (args["learn"] or args["remove_stale"]) and checking and plain and target:
            add = [p for p in offered if p not in {k["public_key"] for k in plain}] \
                if args["learn"] else []
            remove = []
            if (args["remove_stale"] and before["remaining"]) or add:
                keep = set(offered)
                remove = [k for k in plain if args["remove_stale"] and k["file"] == target
                          and k["public_key"] not in keep and kh.is_single_host(k["hosts"])]
            hashed = (cfg.get("hashknownhosts") or "no").lower() == "yes" or any(
                k["hosts"].startswith("|1|") for k in plain if k["file"] == target)
            try:
                text_before, text_after = kh.update(
                    target, name, add=add, remove=[k["text"] for k in remove], hashed=hashed,
                    check_mode=self._task.check_mode)
            except OSError as e:
                raise AnsibleActionFail("ssh_trust: cannot update %s: %s" % (
                    target, e.strerror or e)) from e
            if text_before != text_after:
                changed = True
                host_key["learned"] = add
                host_key["removed"] = [dict(line=k["line"], type=k["type"],
                                            fingerprint=k["fingerprint"]) for k in remove]
                if add:
                    host_key.update(status="pass", reason="%s %s for %s in %s over the "
                                    "authenticated connection" % (
                                        "would learn" if self._task.check_mode else "learned",
                                        ", ".join(a.split()[0] for a in add), name, target))
                if self._task.diff:
                    result["diff"] = dict(before=text_before, after=text_after,
                                          before_header=target, after_header=target)
        ua = args["user_access"]
        result.update(changed=changed, host_key=host_key,
                      client_key=client_key(cfg, ua, password, opt("private_key")))
        return result
