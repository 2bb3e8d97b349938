# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fips_mode role's decisions (plugins/plugin_utils/role_decisions.py, called by the role
through the flatcar.fips.fips_mode_decision filter), case by case: the preflight's refusals for
Flatcar situations this machine cannot be put in (Secure Boot on an old release, a shipped
fipsmodule.cnf that does not verify, ...) from preflight facts written out by hand in the shape
flatcar.fips.fips_facts returns them; the checks that fail the role; the outcome line; the
message that stops a rollout. The role's real runs: tests/integration/test_fips_mode_role.py and
the VM scenarios."""

import copy
import json
import os
import re

import pytest
import yaml

from ansible_collections.flatcar.fips.plugins.filter import fips_mode_decision as flt
from ansible_collections.flatcar.fips.plugins.plugin_utils import role_decisions as decide

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "fips_mode")


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as f:
        return yaml.safe_load(f)


# Computed in vars/main.yml from the connection, not copied from a variable.
COMPUTED = {"ssh_users_checked", "connection_user"}


def settings_for(role_vars):
    """fips_mode__settings as vars/main.yml makes it: each fips_mode_X (the role's default, or
    the case's) as X; who must still log in: fips_mode_ssh_users and the connecting user (not
    for a local connection)."""
    merged = dict(load("defaults", "main.yml"), **role_vars)
    mapping = load("vars", "main.yml")["fips_mode__settings"]
    settings = {key: merged["fips_mode_" + key] for key in mapping if key not in COMPUTED}
    user = merged["ansible_user"]
    local = merged["ansible_connection"] == "local"
    settings["connection_user"] = user
    settings["ssh_users_checked"] = list(dict.fromkeys(
        merged["fips_mode_ssh_users"] + ([] if local else [user])))
    return settings


def test_settings_are_the_role_variables_under_their_short_names():
    """vars/main.yml passes each fips_mode_X as X (what settings_for above relies on)."""
    mapping = load("vars", "main.yml")["fips_mode__settings"]
    defaults = load("defaults", "main.yml")
    for key, value in mapping.items():
        if key in COMPUTED:
            continue
        assert value == "{{ fips_mode_%s }}" % key, key
        assert "fips_mode_" + key in defaults, key
    assert mapping["ssh_users_checked"] == "{{ fips_mode__ssh_users_checked }}"
    assert mapping["connection_user"] == "{{ fips_mode__connection_user }}"


# --- the preflight decision, case by case -----------------------------------------------------

def flatcar_facts():
    """Preflight facts of a Flatcar stable host that may switch (every refusal absent)."""
    return {
        "system": {"os_id": "flatcar", "os_version": "4593.2.0", "flatcar": True,
                   "os_name": "Flatcar Container Linux by Kinvolk 4593.2.0 (Oklo)",
                   "secure_boot": False, "oem_grub_cfg_ignored": False},
        "kernel": {"configured_args": ["flatcar.autologin"], "fips_enabled": 0},
        "sshd": {"host_keys": [
            {"path": "/etc/ssh/ssh_host_ecdsa_key", "exists": True,
             "type": "ecdsa-sha2-nistp256", "bits": 256, "fips_usable": True},
            {"path": "/etc/ssh/ssh_host_ed25519_key", "exists": True, "type": "ssh-ed25519",
             "bits": 256, "fips_usable": False}],
            "users_without_fips_key": ["edonly"],
            "users": {
                "core": {"status": "pass", "reason": "1 FIPS-usable key(s) in "
                         "/home/core/.ssh/authorized_keys"},
                "edonly": {"status": "fail", "reason": "/home/edonly/.ssh/authorized_keys holds "
                           "keys of types ssh-ed25519 only, none FIPS-usable"},
                "ldap": {"status": "unknown", "reason": "no FIPS-usable key in "
                         "/home/ldap/.ssh/authorized_keys, and AuthorizedKeysCommand "
                         "/usr/bin/sss_ssh_authorizedkeys may authorize ldap"}}},
        "openssl": {"version": "3.5.4", "module": "/usr/lib64/ossl-modules/fips.so",
                    "module_present": True,
                    "fipsmodule_cnf": {"path": "/etc/ssl/fipsmodule.cnf", "present": True,
                                       "verified": True, "generated_by_collection": False}},
        "luks": {"devices": {"/dev/vdb": {}, "/dev/vdc": {}},
                 "argon2_keyslots": {}, "unreadable": {}},
        "errors": {},
    }


def case(name, change=None, **role_vars):
    """A case: its name, the preflight facts, the role's settings (its defaults, then the
    case's variables, as roles/fips_mode/vars/main.yml maps them) and ssh_trust's prediction."""
    facts = flatcar_facts()
    if change:
        change(facts)
    role_vars.setdefault("ansible_user", "core")
    role_vars.setdefault("ansible_connection", "ssh")
    role_vars.setdefault("fips_mode_state", "enabled")
    role_vars.setdefault("fips_mode__trust", trust())
    return {"name": name, "facts": facts, "settings": settings_for(role_vars),
            "trust": role_vars["fips_mode__trust"]}


def trust(host_key="pass", client_key="pass", **host_key_fields):
    """What flatcar.fips.ssh_trust returns, in the shape the template reads (the action itself is
    exercised for real in test_ssh_trust.py)."""
    return {"host_key": dict({"status": host_key, "reason": "host key " + host_key,
                              "name": "192.0.2.10", "known_hosts_file": "/home/me/.ssh/known_hosts",
                              "offered_after": ["ecdsa-sha2-nistp256 AAAA"]}, **host_key_fields),
            "client_key": {"status": client_key, "reason": "client key " + client_key}}


def setter(path, value):
    def change(facts):
        node = facts
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(value)
    return change


ARGON2 = setter(["luks", "argon2_keyslots"], {"/dev/vdb": ["0", "2"]})


def unreadable_os_release(facts):
    facts["system"]["flatcar"] = None
    facts["errors"]["system.os_release"] = "/etc/os-release is not a regular file"


def cases():
    return [
        (case("flatcar host, nothing in the way"), []),
        (case("not flatcar", setter(["system"], {
            "os_id": "debian", "os_version": "12", "flatcar": False,
            "os_name": "Debian GNU/Linux 12 (bookworm)", "secure_boot": False,
            "oem_grub_cfg_ignored": None})),
         ["is not Flatcar Container Linux (Debian GNU/Linux 12 (bookworm))"]),
        (case("not flatcar, allowed", setter(["system", "flatcar"], False),
              fips_mode_allow_non_flatcar=True), []),
        (case("os-release unreadable: cannot tell", unreadable_os_release),
         ["Cannot tell whether localhost runs Flatcar Container Linux: /etc/os-release is not a "
          "regular file", "fips_mode_allow_non_flatcar: true"]),
        (case("os-release unreadable, allowed", setter(["system", "flatcar"], None),
              fips_mode_allow_non_flatcar=True), []),
        (case("secure boot on an old stable", setter(["system"], {
            "os_id": "flatcar", "os_version": "3815.2.5", "flatcar": True, "os_name": "x",
            "secure_boot": True, "oem_grub_cfg_ignored": True})),
         ["UEFI Secure Boot is on and Flatcar 3815.2.5 ignores the OEM grub.cfg",
          "3975.2.0 or newer"]),
        (case("ed25519 host key only", setter(["sshd", "host_keys"], [
            {"path": "/etc/ssh/ssh_host_rsa_key", "exists": False, "type": None, "bits": None,
             "fips_usable": False},
            {"path": "/etc/ssh/ssh_host_ed25519_key", "exists": True, "type": "ssh-ed25519",
             "bits": 256, "fips_usable": False}])),
         ["no FIPS-usable host key (it has: ssh-ed25519)", "fips_mode_generate_host_keys: true"]),
        (case("ed25519 host key only, generate", setter(["sshd", "host_keys"], []),
              fips_mode_generate_host_keys=True), []),
        (case("connecting user locked out", ansible_user="edonly"),
         ["User edonly would be locked out once sshd accepts only FIPS algorithms",
          "ssh-ed25519 only"]),
        (case("listed user locked out", fips_mode_ssh_users=["core", "edonly"]),
         ["User edonly would be locked out"]),
        (case("local connection: no user to check", ansible_user="edonly",
              ansible_connection="local"), []),
        (case("user behind an AuthorizedKeysCommand", fips_mode_ssh_users=["ldap"]),
         ["Whether user ldap can still log in", "AuthorizedKeysCommand",
          "fips_mode_accept_unverifiable_user_keys: true"]),
        (case("user behind an AuthorizedKeysCommand, accepted", fips_mode_ssh_users=["ldap"],
              fips_mode_accept_unverifiable_user_keys=True), []),
        (case("connects with a key sshd will refuse", fips_mode__trust=trust(client_key="fail")),
         ["Ansible connects to localhost as core, and after the sshd change it could not log in: "
          "client key fail"]),
        (case("connecting key cannot be examined", fips_mode__trust=trust(client_key="unknown")),
         ["cannot be proven: client key unknown",
          "fips_mode_accept_unverifiable_user_keys: true"]),
        (case("connecting key cannot be examined, accepted",
              fips_mode__trust=trust(client_key="unknown"),
              fips_mode_accept_unverifiable_user_keys=True), []),
        (case("known hosts hold only the ed25519 key", fips_mode__trust=trust(host_key="fail")),
         ["The controller would no longer verify localhost: host key fail",
          "fips_mode_known_hosts: learn", "(ecdsa-sha2-nistp256)", "/home/me/.ssh/known_hosts",
          "ssh-keygen -F 192.0.2.10"]),
        (case("known hosts hold only the ed25519 key, ignored",
              fips_mode__trust=trust(host_key="fail"), fips_mode_known_hosts="ignore"), []),
        (case("host trusted through a CA", fips_mode__trust=trust(host_key="unknown")),
         ["Whether the controller will still verify localhost", "fips_mode_known_hosts: ignore"]),
        (case("argon2 keyslots, no key", ARGON2),
         ["LUKS device /dev/vdb has keyslots 0,2 using argon2", "fips_mode_luks_keys",
          "fips_mode_luks_accept_argon2"]),
        (case("argon2 keyslots, key on the host", ARGON2,
              fips_mode_luks_keys={"/dev/vdb": {"key_file": "/etc/luks/vdb.key"}}), []),
        (case("argon2 keyslots, accepted", ARGON2, fips_mode_luks_accept_argon2=["/dev/vdb"]),
         []),
        (case("key for a device that is not LUKS", ARGON2,
              fips_mode_luks_keys={"/dev/vdb": {"passphrase": "x"},
                                   "/dev/sda": {"key_file": "/k"}}),
         ["fips_mode_luks_keys names /dev/sda, which the preflight did not find"]),
        (case("key without key_file or passphrase", ARGON2,
              fips_mode_luks_keys={"/dev/vdb": {"header_backup": "/root/h"}}),
         ["fips_mode_luks_keys[/dev/vdb] must be a mapping with either key_file"]),
        (case("no fips.so", setter(["openssl", "module_present"], False)),
         ["/usr/lib64/ossl-modules/fips.so does not exist"]),
        (case("shipped fipsmodule.cnf does not verify",
              setter(["openssl", "fipsmodule_cnf", "verified"], False)),
         ["/etc/ssl/fipsmodule.cnf does not verify against /usr/lib64/ossl-modules/fips.so",
          "fips_mode_regenerate_fipsmodule: true"]),
        (case("shipped fipsmodule.cnf does not verify, regenerate",
              setter(["openssl", "fipsmodule_cnf", "verified"], False),
              fips_mode_regenerate_fipsmodule=True), []),
        (case("grub.cfg unreadable", lambda f: (
            f["kernel"].update(configured_args=None),
            f["errors"].update({"kernel.configured_args": "/oem/grub.cfg line 3: $x"})), ),
         ["The OEM grub.cfg cannot be read as GRUB reads it: /oem/grub.cfg line 3: $x"]),
        (case("OEM partition not mounted", lambda f: f["kernel"].update(
            grub_cfg="/oem/grub.cfg", grub_cfg_present=False, grub_cfg_dir_present=False)),
         ["/oem/grub.cfg cannot be created: its directory does not exist"]),
        (case("disabling checks only the distribution", lambda f: (
            ARGON2(f), f["sshd"].update(host_keys=[])), fips_mode_state="disabled"), []),
    ]


WRITER_TASKS = {"sshd": "flatcar.fips.sshd_crypto", "openssl": "flatcar.fips.openssl_fips",
                "kernel": "flatcar.fips.kernel_args"}


@pytest.mark.parametrize("state", ["enabled", "disabled"])
def test_writers_run_with_the_options_they_were_planned_with(state):
    """The preflight plans each writer with fips_mode__writers (fips_facts' plan option), and the
    writer task passes exactly those options, each from fips_mode__writers, and runs only when
    its plan is not empty: a writer the role skips is one whose own check mode, with these very
    options, found nothing to change."""
    preflight = next(t for t in load("tasks", "preflight.yml")
                     if "flatcar.fips.fips_facts" in t)
    assert preflight["flatcar.fips.fips_facts"]["plan"] == "{{ fips_mode__writers }}"
    writers = load("vars", "main.yml")["fips_mode__writer_options"][state]
    tasks = load("tasks", state + ".yml")
    for layer, module in WRITER_TASKS.items():
        (task,) = [t for t in tasks if module in t]
        assert task[module] == {key: "{{ fips_mode__writers.%s.%s }}" % (layer, key)
                                for key in writers[layer]}, layer
        assert task["when"] == "fips_mode__plan.%s.changed | default(none) is not false" % layer
        assert task["register"] == "fips_mode__" + layer


def test_preflight_decisions():
    for c, expected in cases():
        got = decide.refusals(c["facts"], c["settings"], trust=c["trust"], host="localhost")
        text = " ".join(got)
        if not expected:
            assert got == [], (c["name"], got)
        else:
            assert len(got) == 1, (c["name"], got)
            for fragment in expected:
                assert fragment in text, (c["name"], fragment, got)
        assert json.dumps(got)  # plain data, as the role's assert prints it


def test_task_files_are_refused_unless_absolute_and_present(tmp_path):
    drain = tmp_path / "drain.yml"
    drain.write_text("[]\n")
    settings = settings_for({"ansible_user": "core", "ansible_connection": "ssh",
                             "fips_mode_reboot_pre_tasks": str(drain),
                             "fips_mode_reboot_post_tasks": "uncordon.yml",
                             "fips_mode_health_check_tasks": str(tmp_path / "missing.yml"),
                             "fips_mode_state": "disabled"})
    got = decide.refusals(flatcar_facts(), settings, host="node-1")
    assert got == [
        "fips_mode_reboot_post_tasks is uncordon.yml, which is not an absolute path. Give the "
        "absolute path of a task file on the controller.",
        "fips_mode_health_check_tasks is %s, which is not a file on the controller. Give the "
        "absolute path of a task file on the controller." % (tmp_path / "missing.yml")]
    settings.update(reboot_method="coordinator", reboot_signal_path="reboot-required",
                    health_check_tasks="", reboot_post_tasks="")
    assert decide.refusals(flatcar_facts(), settings) == [
        "fips_mode_reboot_signal_path is reboot-required, which is not an absolute path."]
    settings.update(reboot_signal_tasks=str(drain))  # signalled by tasks: no path needed
    assert decide.refusals(flatcar_facts(), settings) == []


def check(check_id, passed, layer="kernel"):
    return {"id": check_id, "layer": layer, "title": check_id.replace("_", " "),
            "passed": passed, "reason": "because", "remediation": "do it"}


def test_failed_checks_excuse_only_tolerated_failures_never_unknowns():
    compliance = [check("kernel_fips_running", False), check("luks_pbkdf2", None, "luks"),
                  check("openssl_md5_refused", False, "openssl"), check("sshd_ok", True, "sshd")]
    tolerated = ["kernel_fips_running", "luks_pbkdf2"]
    assert decide.failed_checks(compliance, tolerated) == [
        "[luks] luks pbkdf2: UNKNOWN, because. Remediation: do it",
        "[openssl] openssl md5 refused: because. Remediation: do it"]
    assert decide.failed_checks(compliance, []) == [
        "[kernel] kernel fips running: because. Remediation: do it",
        "[luks] luks pbkdf2: UNKNOWN, because. Remediation: do it",
        "[openssl] openssl md5 refused: because. Remediation: do it"]


def test_tolerated_checks():
    final = {"luks": {"argon2_keyslots": {"/dev/vdb": ["0"]}}}
    assert decide.tolerated_checks(final, {"luks_accept_argon2": []}, False) == []
    assert decide.tolerated_checks(final, {"luks_accept_argon2": ["/dev/vdb"]}, True) == [
        "kernel_fips_running", "kernel_fips_not_running", "luks_pbkdf2"]
    # no LUKS facts at all: nothing left to accept
    assert decide.tolerated_checks({"luks": None}, {}, False) == ["luks_pbkdf2"]


@pytest.mark.parametrize("settings,args,line", [
    ({"reboot_method": "ansible"}, dict(changed_layers=["sshd", "openssl", "kernel"],
                                        reboot_required=True, rebooted=False),
     "FIPS mode will be enabled at the next boot (changed: sshd, openssl, kernel); PENDING "
     "REBOOT: reboot the host, or run again with fips_mode_reboot_ok: true"),
    ({"reboot_method": "coordinator", "reboot_signal_path": "/var/run/reboot-required"},
     dict(changed_layers=["kernel"], reboot_required=True, rebooted=False),
     "FIPS mode will be enabled at the next boot (changed: kernel); PENDING REBOOT: signalled to "
     "the reboot coordinator (/var/run/reboot-required), which reboots the host when the "
     "cluster allows; the next run confirms it and withdraws the signal"),
    ({"reboot_method": "never"}, dict(changed_layers=["kernel"], reboot_required=True,
                                      rebooted=False, check_mode=True),
     "check mode: would change kernel; a reboot would then be required "
     "(fips_mode_reboot_method is never)"),
    ({"reboot_method": "ansible"}, dict(changed_layers=["kernel"], reboot_required=False,
                                        rebooted=True, check_mode=True),
     "check mode: would change kernel; would reboot"),
    ({"reboot_method": "ansible", "verify": True}, dict(changed_layers=["sshd", "kernel"],
                                                        reboot_required=False, rebooted=True),
     "FIPS mode is enabled and verified (changed: sshd, kernel; rebooted)"),
    ({"reboot_method": "coordinator", "reboot_signal_path": "/var/lib/k/reboot-required",
      "verify": True}, dict(changed_layers=[], reboot_required=False, rebooted=False,
                            signal_removed=True),
     "FIPS mode is enabled and verified (changed: nothing; reboot signal "
     "/var/lib/k/reboot-required removed)"),
    ({"reboot_method": "ansible", "verify": False}, dict(changed_layers=[],
                                                         reboot_required=False, rebooted=False),
     "FIPS mode is enabled (changed: nothing)"),
])
def test_outcome(settings, args, line):
    assert decide.outcome(dict(settings, state="enabled"), **args) == line


def test_rollout_stopped():
    lines = decide.rollout_stopped("node-2", "Fail when the health check did not pass in time",
                                   "node-2 did not pass", ["node-2"], ["node-1"],
                                   ["node-1", "node-2", "node-3", "node-4"])
    assert lines == [
        'The rollout stopped at node-2: the task "Fail when the health check did not pass in '
        'time" failed.', "node-2 did not pass", "Not reached, left untouched: node-3, node-4.",
        "Fix node-2 and run again: hosts that are done are only re-verified."]
    # a list message is kept line by line; nothing left untouched: no such line
    lines = decide.rollout_stopped("node-1", None, ["refused", "why"], ["node-1"], [],
                                   ["node-1"])
    assert lines[:3] == ['The rollout stopped at node-1: the task "?" failed.', "refused", "why"]
    assert not any(line.startswith("Not reached") for line in lines)


def test_the_filter_dispatches_and_refuses_an_unknown_decision():
    assert flt.fips_mode_decision("failed_checks", compliance=[check("x", False)]) == [
        "[kernel] x: because. Remediation: do it"]
    with pytest.raises(Exception, match="unknown decision 'verdict'"):
        flt.fips_mode_decision("verdict")
    assert set(flt.FilterModule().filters()) == {"fips_mode_decision"}
    assert re.search(r"choices: \[refusals, tolerated_checks, failed_checks, outcome, "
                     r"reread_layers,\s+rollout_stopped\]", flt.DOCUMENTATION)


# --- reading again after the changes ----------------------------------------------------------

@pytest.mark.parametrize("changed,rebooted,layers", [
    (["sshd"], False, ["sshd"]),
    (["openssl"], False, ["openssl", "luks"]),  # cryptsetup's FIPS mode follows OpenSSL's
    (["kernel"], False, ["kernel"]),  # a pending reboot: only the configured arguments changed
    (["sshd", "luks"], False, ["sshd", "luks"]),
    (["sshd"], True, ["kernel", "openssl", "sshd", "luks"]),
    ([], True, ["kernel", "openssl", "sshd", "luks"]),
])
def test_what_is_read_again(changed, rebooted, layers):
    assert flt.fips_mode_decision("reread_layers", changed_layers=changed,
                                  rebooted=rebooted) == layers
