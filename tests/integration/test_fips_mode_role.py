# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fips_mode role and the enable/disable playbooks on this machine, with a real
ansible-playbook.

This machine is Debian, not Flatcar, and cannot reboot: the role's full runs happen on the VM
testbed (extensions/molecule: default, lts, lockout, rollout). Here: the preflight refuses this
host with nothing changed, the argument specs reject bad input, the rollout stops at the first
failed host naming those it never reached, hosts the role may reboot roll one per batch, and the
role runs to its end out of FIPS mode (disable, as a Flatcar look-alike) with the coordinator's
sentinel and the health gate. The preflight's decisions for Flatcar situations this machine
cannot be put in: tests/unit/controller/test_role_decisions.py."""

import hashlib
import json
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

REFUSE = "Refuse, with nothing changed, what would lock Ansible out or leave the host unusable"


def run_playbook(ansible_env, *args, timeout=300, env=None):
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", *args],
                          env=ansible_env(**(env or {})), capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=ROOT)
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
def test_disable_on_a_host_out_of_fips_mode_changes_nothing(ansible_env, check, tmp_path):
    """This machine is out of FIPS mode (a Flatcar look-alike when allowed): flatcar.fips.disable
    plans every layer's writer in the preflight (the writers' own check mode, on this machine's
    real files), finds nothing to change, calls no writer, and verifies FIPS mode is off: one
    module round trip (tests/integration/callback_plugins/round_trips.py counts them)."""
    before = digest(WATCHED)
    trips = tmp_path / "round_trips.json"
    proc = run_playbook(ansible_env, "flatcar.fips.disable", "-e",
                        "fips_mode_allow_non_flatcar=true", *(["--check"] if check else []),
                        env=dict(ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                                 ANSIBLE_CALLBACKS_ENABLED="round_trips", ROUND_TRIPS=str(trips)))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for task in ("Remove fips=1 from the OEM grub.cfg",
                 "Restore the OpenSSL configuration from before FIPS mode",
                 "Remove the FIPS sshd drop-in and restore what it replaced"):
        assert re.search(r"TASK \[flatcar\.fips\.fips_mode : %s\] \**\nskipping: \[localhost\]"
                         % re.escape(task), out), task
    assert "FIPS mode is disabled and verified (changed: nothing)" in out
    assert "changed=0" in out and "failed=0" in out
    assert json.loads(trips.read_text()) == {"localhost": {"round_trips": 1, "tasks": [
        "Read where the host stands, layer by layer, and plan each writer (preflight)"]}}
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


def test_ansible_doc_renders_the_role(ansible_doc):
    run = ansible_doc("-t", "role", "flatcar.fips.fips_mode")
    assert run.rc == 0, run.stderr
    for text in ("ENTRY POINT: *main*", "fips_mode_reboot_ok", "fips_mode_luks_keys",
                 "Check mode runs the whole role without changing anything"):
        assert text in run.stdout
