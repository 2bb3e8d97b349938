# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fips_mode role and the enable/disable playbooks on this machine, with a real
ansible-playbook.

This machine is Debian, not Flatcar, and cannot reboot: the role's full runs happen on the VM
testbed (extensions/molecule: default, lts, lockout). Here: the preflight refuses this host with
nothing changed, the argument specs reject bad input, and the preflight decision is rendered for
Flatcar situations this machine cannot be put in (Secure Boot on an old release, a shipped
fipsmodule.cnf that does not verify, ...) from preflight facts written out by hand, in the
shape flatcar.fips.fips_facts returns them."""

import copy
import hashlib
import json
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

REFUSE = "Refuse, with nothing changed, what would lock Ansible out or leave the host unusable"


def run_playbook(ansible_env, *args, timeout=300):
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", *args],
                          env=ansible_env(), capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=ROOT)
    return proc


def digest(paths):
    state = {}
    for top in paths:
        for dirpath, _dirs, names in os.walk(top):
            for name in sorted(names):
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    state[path] = "-> " + os.readlink(path)
                elif os.path.isfile(path):
                    st = os.stat(path)
                    with open(path, "rb") as f:
                        state[path] = (hashlib.sha256(f.read()).hexdigest(), st.st_mode,
                                       st.st_uid)
    return state


WATCHED = ["/etc/ssh", "/etc/ssl", "/etc/systemd/system"]


@pytest.mark.parametrize("playbook", ["flatcar.fips.enable", "flatcar.fips.disable"])
@pytest.mark.parametrize("check", [False, True])
def test_not_flatcar_is_refused_with_nothing_changed(ansible_env, playbook, check):
    before = digest(WATCHED)
    proc = run_playbook(ansible_env, playbook, *(["--check"] if check else []))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "refused localhost; nothing was changed." in out
    assert "is not Flatcar Container Linux (Debian GNU/Linux 12 (bookworm))" in out
    assert "fips_mode_allow_non_flatcar: true" in out
    # the preflight is the only module that ran, and it changed nothing
    # (and, when enabling, ssh_trust on the controller: a local connection, nothing to check)
    # (plus the batch grouping and the role's include; the rollout's rescue turns the refusal
    # into the message that stops the rollout)
    ok = 6 if playbook == "flatcar.fips.enable" else 5
    assert "localhost                  : ok=%d    changed=0" % ok in out
    skipped = 1 if playbook == "flatcar.fips.enable" else 2
    assert "failed=1    skipped=%d    rescued=1" % skipped in out
    assert "The rollout stopped at localhost: the task \"Refuse, with nothing changed" in out
    assert digest(WATCHED) == before


def test_argument_specs_reject_bad_input(ansible_env):
    proc = run_playbook(ansible_env, "flatcar.fips.enable", "-e", "fips_mode_reboot_timeout=soon",
                        "-e", '{"fips_mode_luks_accept_argon2": "/dev/vdb"}')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert "Validating arguments against arg spec 'main'" in out
    assert "fips_mode_reboot_timeout" in out and "cannot be converted to an int" in out
    # the preflight never ran
    assert "Read where the host stands" not in out


@pytest.mark.parametrize("check", [True, False])
def test_disable_on_a_host_out_of_fips_mode_changes_nothing(ansible_env, check):
    """This machine is out of FIPS mode (a Flatcar look-alike when allowed): flatcar.fips.disable
    runs every layer's module for real, changes nothing, and verifies FIPS mode is off."""
    before = digest(WATCHED)
    proc = run_playbook(ansible_env, "flatcar.fips.disable", "-e",
                        "fips_mode_allow_non_flatcar=true", *(["--check"] if check else []))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for task in ("Remove fips=1 from the OEM grub.cfg",
                 "Restore the OpenSSL configuration from before FIPS mode",
                 "Remove the FIPS sshd drop-in and restore what it replaced"):
        assert "TASK [flatcar.fips.fips_mode : %s]" % task in out
    assert "FIPS mode is disabled and verified (changed: nothing)" in out
    assert "changed=0" in out and "failed=0" in out
    assert digest(WATCHED) == before


# --- the rollout: reboot methods, signals, health gate ---------------------------------------

def test_rollout_stops_at_the_first_failed_host_and_names_the_untouched(ansible_env, tmp_path):
    """Three inventory hosts on the local connection, one batch each (serial 1): the first is
    refused (this machine is not Flatcar), and the rollout stops there, naming the two hosts it
    never reached; they were never contacted (no task ran for them)."""
    inventory = tmp_path / "fleet.ini"
    inventory.write_text("[fleet]\nnode-a\nnode-b\nnode-c\n[fleet:vars]\n"
                         "ansible_connection=local\n")
    before = digest(WATCHED)
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "flatcar.fips.enable",
                           "-e", "fips_serial=1"], env=ansible_env(), capture_output=True,
                          text=True, check=False, timeout=300, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "The rollout stopped at node-a: the task \"Refuse, with nothing changed" in out
    assert "Not reached, left untouched: node-b, node-c." in out
    assert "Fix node-a and run again" in out
    # the first play only groups the hosts (on the controller, no connection); in the rollout
    # itself no task ran for node-b or node-c
    rollout = out.split("PLAY [Switch FIPS mode on Flatcar hosts, batch by batch", 1)[1]
    assert "[node-b]" not in rollout.split("PLAY RECAP")[0]
    assert "[node-c]" not in rollout.split("PLAY RECAP")[0]
    assert "node-b                     : ok=1    changed=0" in out
    assert "node-a                     : ok=6    changed=0" in out
    assert digest(WATCHED) == before


@pytest.mark.parametrize("reboot_ok,batches", [("true", 3), ("false", 1)])
def test_hosts_the_role_may_reboot_roll_one_at_a_time(ansible_env, tmp_path, reboot_ok, batches):
    """fips_mode_reboot_ok from the inventory (where a play's batch size cannot look) still
    makes the rollout one host per batch; without it every host is in one batch."""
    inventory = tmp_path / "fleet.ini"
    inventory.write_text("[fleet]\nnode-a\nnode-b\nnode-c\n[fleet:vars]\n"
                         "ansible_connection=local\nfips_mode_allow_non_flatcar=true\n"
                         "fips_mode_reboot_ok=%s\n" % reboot_ok)
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "flatcar.fips.disable"],
                          env=ansible_env(), capture_output=True, text=True, check=False,
                          timeout=600, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("TASK [flatcar.fips.fips_mode : Read where the host stands") == batches, out
    assert out.count("FIPS mode is disabled and verified (changed: nothing)") == 3


def run_disable(ansible_env, *extra, check=False):
    """flatcar.fips.disable on this machine (out of FIPS mode, a Flatcar look-alike when
    allowed): the role runs to its end, so what comes after the reboot step runs for real."""
    return run_playbook(ansible_env, "flatcar.fips.disable", "-e",
                        "fips_mode_allow_non_flatcar=true", *extra,
                        *(["--check"] if check else []))


@pytest.mark.parametrize("check", [False, True])
def test_coordinator_removes_only_its_own_signal_when_no_reboot_is_due(
        ansible_env, tmp_path, check):
    """fips_mode_reboot_method=coordinator on a host that needs no reboot: a sentinel the role
    wrote (first line 'flatcar.fips:') is withdrawn (not in check mode, which says it would be),
    one that something else wrote is left alone. (Writing it needs a host that needs a reboot:
    the lockout scenario on the VM.)"""
    ours, theirs = tmp_path / "ours" / "reboot-required", tmp_path / "theirs" / "reboot-required"
    for path, text in ((ours, "flatcar.fips: reboot to make FIPS mode enabled effective\n"),
                       (theirs, "update-engine wants a reboot\n")):
        path.parent.mkdir()
        path.write_text(text)
    for path in (ours, theirs):
        proc = run_disable(ansible_env, "-e", "fips_mode_reboot_method=coordinator",
                           "-e", "fips_mode_reboot_signal_path=%s" % path, check=check)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        removed = path == ours
        assert ("changed: [localhost]" in out.split("Remove the reboot sentinel this role wrote")[1]
                .split("TASK")[0]) is removed, out
        assert path.exists() is (not removed or check), out
        if removed and not check:
            assert "reboot signal %s removed" % path in out
    assert theirs.read_text() == "update-engine wants a reboot\n"


def test_health_gate_command_passes_retries_and_fails_with_the_reason(ansible_env, tmp_path):
    """The health gate runs on every host after the rest of the role (no reboot needed here);
    it is retried on the host until it passes or the timeout has passed."""
    flag = tmp_path / "healthy-after-2"
    # passes on the third attempt
    cmd = ("n=$(cat %s 2>/dev/null || echo 0); echo $((n + 1)) > %s; "
           "[ $n -ge 2 ] || { echo not yet; exit 1; }" % (flag, flag))
    proc = run_disable(ansible_env, "-e", json.dumps({
        "fips_mode_health_check_command": cmd, "fips_mode_health_check_interval": 1}))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert flag.read_text() == "3\n"
    assert "TASK [flatcar.fips.fips_mode : Run the health check until it passes" in out
    # fails, with what it said, after the timeout
    proc = run_disable(ansible_env, "-e", json.dumps({
        "fips_mode_health_check_command": "echo workload down >&2; exit 3",
        "fips_mode_health_check_timeout": 2, "fips_mode_health_check_interval": 1}))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "localhost did not pass the health check within 2 s" in out
    assert "exited 3" in out and "workload down" in out
    assert re.search(r"attempts=[2-4]\b", out), out
    assert "The rollout stopped at localhost" in out
    # in check mode it does not run
    proc = run_disable(ansible_env, "-e", json.dumps({
        "fips_mode_health_check_command": "exit 3"}), check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Run the health check until it passes" not in proc.stdout
    assert "Health gate (the play moves on only when it passes)] ***\nskipping: [localhost]" in (
        proc.stdout)


def test_health_gate_tasks_run_with_a_timeout(ansible_env, tmp_path):
    tasks = tmp_path / "gate.yml"
    marker = tmp_path / "gate-ran"
    tasks.write_text("""---
- name: Record that the gate ran
  ansible.builtin.copy: {content: ran, dest: %s, mode: "0644"}
  delegate_to: localhost
- name: A check that hangs
  ansible.builtin.command: sleep 30
  when: hang | default(false) | bool
""" % marker)
    proc = run_disable(ansible_env, "-e", json.dumps({"fips_mode_health_check_tasks": str(tasks)}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.read_text() == "ran"
    proc = run_disable(ansible_env, "-e", json.dumps({
        "fips_mode_health_check_tasks": str(tasks), "fips_mode_health_check_timeout": 3,
        "hang": True}))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert ('The rollout stopped at localhost: the task "A check that hangs" failed.' in out
            and "Timed out after 3 second(s)." in out), out


@pytest.mark.parametrize("value,why", [("drain.yml", "which is not an absolute path"),
                                       ("/nonexistent/drain.yml", "which is not a file on the "
                                        "controller")])
def test_task_files_are_checked_in_the_preflight(ansible_env, value, why):
    before = digest(WATCHED)
    proc = run_disable(ansible_env, "-e", "fips_mode_reboot_pre_tasks=%s" % value)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "fips_mode_reboot_pre_tasks is %s, %s" % (value, why) in out
    assert "refused localhost; nothing was changed." in out
    assert digest(WATCHED) == before


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
    facts = flatcar_facts()
    if change:
        change(facts)
    role_vars.setdefault("ansible_user", "core")
    role_vars.setdefault("ansible_connection", "ssh")
    role_vars.setdefault("fips_mode_state", "enabled")
    role_vars.setdefault("fips_mode__trust", trust())
    return {"name": name, "vars": dict(role_vars, fips_mode__preflight={
        "ansible_facts": {"flatcar_fips": facts}})}


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


def cases(keys):
    return [
        (case("flatcar host, nothing in the way"), []),
        (case("not flatcar", setter(["system"], {
            "os_id": "debian", "os_version": "12", "flatcar": False,
            "os_name": "Debian GNU/Linux 12 (bookworm)", "secure_boot": False,
            "oem_grub_cfg_ignored": None})),
         ["is not Flatcar Container Linux (Debian GNU/Linux 12 (bookworm))"]),
        (case("not flatcar, allowed", setter(["system", "flatcar"], False),
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


def test_preflight_decisions(tmp_path, keys, playbook):
    table = cases(keys)
    run = playbook("fips_mode_refusals.yml", {"cases": [c for c, _expected in table]})
    assert run.rc == 0, run.stdout + run.stderr
    refusals = run.task("Keep the refusals for the test")["refusals"]
    for c, expected in table:
        got = refusals[c["name"]]
        text = " ".join(got)
        if not expected:
            assert got == [], (c["name"], got)
        else:
            assert len(got) == 1, (c["name"], got)
            for fragment in expected:
                assert fragment in text, (c["name"], fragment, got)
    assert json.dumps(refusals)  # plain data, as the role's assert prints it


def test_ansible_doc_renders_the_role(ansible_doc):
    run = ansible_doc("-t", "role", "flatcar.fips.fips_mode")
    assert run.rc == 0, run.stderr
    for text in ("ENTRY POINT: *main*", "fips_mode_reboot_ok", "fips_mode_luks_keys",
                 "Check mode runs the whole role without changing anything"):
        assert text in run.stdout
