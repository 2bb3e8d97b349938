# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.fips_facts, the compliance checks and the report playbook, through real
ansible-playbook runs against host trees brought into each state by the collection's own modules
(real fips.so, real sshd -T, real cryptsetup images).

Mocked, and why: /proc/sys/crypto/fips_enabled and /proc/cmdline are files in the tree. This
machine's kernel cannot be rebooted into fips=1 (the VM tier proves the kernel layer), so
"after the reboot" is written into those two files.
"""

import os
import subprocess

import pytest
from luks_images import fips_cryptsetup
from openssl_tree import STOCK, Tree, fipsinstall
from sshd_layouts import Layout

QEMU = '# Flatcar GRUB settings\n\nset oem_id="qemu"\nset linux_append="flatcar.autologin"\n'
FLATCAR_OS_RELEASE = ('NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\n'
                      'VERSION_ID=4081.2.0\nPRETTY_NAME="Flatcar Container Linux by Kinvolk '
                      '4081.2.0 (Oklo)"\n')
FACTS = "Gather the FIPS facts"
RESULTS = "Evaluate the shipped compliance checks"
HERE = os.path.dirname(os.path.abspath(__file__))
JUNIT_XSD = os.path.join(os.path.dirname(HERE), "files", "junit.xsd")
ARGON = ["--pbkdf-memory", "32", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"]


class Host:
    """A Flatcar-shaped host tree: OEM grub.cfg, /proc stand-ins, OpenSSL (stable layout with a
    shipped fipsmodule.cnf), sshd (LTS layout) and an argon2id LUKS2 data volume."""

    def __init__(self, root, keys):
        self.root = root
        self.openssl = Tree(root)
        shutil_copy(STOCK, self.openssl.openssl_cnf)
        fipsinstall(self.openssl.module, self.openssl.fipsmodule_cnf)
        os.makedirs(os.path.join(root, "oem"))
        os.makedirs(os.path.join(root, "proc"))
        write(os.path.join(root, "oem/grub.cfg"), QEMU)
        write(os.path.join(root, "etc/os-release"), FLATCAR_OS_RELEASE)
        self.boot(fips=False)
        self.sshd = Layout(os.path.join(root, "sshd"), "lts", keys)
        self.luks = os.path.join(root, "data.img")
        with open(self.luks, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        subprocess.run(["cryptsetup", "--batch-mode", "luksFormat", "--type", "luks2", "--pbkdf",
                        "argon2id", *ARGON, "--key-file=-", self.luks], input=b"data",
                       check=True, capture_output=True, timeout=60)
        # the host's cryptsetup: the FIPS build, reading this tree's openssl.cnf
        self.cryptsetup = fips_cryptsetup(os.path.join(root, "cryptsetup"),
                                          openssl_cnf=self.openssl.openssl_cnf,
                                          modules=self.openssl.modules)

    def boot(self, fips):
        """What /proc says after a boot (with or without fips=1)."""
        write(os.path.join(self.root, "proc/fips_enabled"), "1\n" if fips else "0\n")
        write(os.path.join(self.root, "proc/cmdline"),
              "root=LABEL=ROOT flatcar.autologin%s\n" % (" fips=1" if fips else ""))

    @property
    def env(self):
        return self.openssl.env

    def apply(self, playbook, layer):
        root = self.root
        if layer == "kernel":
            run = playbook("kernel_args.yml", dict(grub_cfg=root + "/oem/grub.cfg",
                                                   proc_cmdline=root + "/proc/cmdline",
                                                   present=["fips=1"]))
        elif layer == "openssl":
            run = playbook("openssl_fips.yml", dict(root=root), env=self.env)
        elif layer == "sshd":
            run = playbook("sshd_crypto.yml", dict(root=self.sshd.root))
        else:
            run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=self.luks,
                                                  passphrase="data", pbkdf_iterations=1000,
                                                  header_backup=root + "/luks.header"))
        assert run.rc == 0, run.stdout

    def facts(self, playbook, **extra):
        run = playbook("fips_facts.yml", dict(root=self.root, **extra), env=self.env)
        assert run.rc == 0, run.stdout + run.stderr
        self.last = run.task(FACTS)
        facts = self.last["ansible_facts"]["flatcar_fips"]
        results = {r["id"]: r for r in run.task(RESULTS)["ansible_facts"]["results"]}
        return facts, results


def shutil_copy(src, dst):
    with open(src) as f:
        write(dst, f.read())


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def host(tmp_path, keys):
    return Host(str(tmp_path / "host"), keys)


def problem_ids(facts):
    return sorted(p["id"] for p in facts["problems"])


# The checks that fail while OpenSSL is not in FIPS mode (the stock openssl.cnf activates the
# default provider) and while the kernel has no fips=1; the judge lists every failing check.
OPENSSL_OFF = ["cryptsetup_fips_mode", "openssl_configured", "openssl_default_properties",
               "openssl_md5_refused", "openssl_only_fips_and_base", "openssl_provider_active",
               "system_fips_marker"]
KERNEL_OFF = ["kernel_fips_configured", "kernel_fips_running"]


def test_before_anything(playbook, host):
    facts, results = host.facts(playbook)
    assert facts["status"] == "disabled"
    assert problem_ids(facts) == sorted(OPENSSL_OFF + KERNEL_OFF + ["luks_pbkdf2",
                                                                    "sshd_algorithms"])
    assert all(p["result"] == "fail" for p in facts["problems"])
    assert facts["kernel"]["fips_enabled"] == 0
    assert facts["kernel"]["configured_args"] == ["flatcar.autologin"]
    assert facts["openssl"]["fipsmodule_cnf"]["verified"] is True
    assert facts["openssl"]["provider_active"] is False
    assert "chacha20-poly1305@openssh.com" in facts["sshd"]["non_approved"]["Ciphers"]
    assert facts["luks"]["argon2_keyslots"] == {host.luks: ["0"]}
    assert facts["cryptsetup"]["fips_mode"] is False
    assert results["kernel_fips_configured"]["passed"] is False
    assert results["openssl_module_present"]["passed"] is True
    assert results["sshd_host_key"]["passed"] is True
    assert facts["duration"] < 30


@pytest.mark.parametrize(("layer", "status", "problems"), [
    ("kernel", "partial", [*OPENSSL_OFF, "kernel_fips_running", "luks_pbkdf2",
                           "sshd_algorithms"]),
    ("openssl", "partial", [*KERNEL_OFF, "luks_pbkdf2", "sshd_algorithms"]),
    ("sshd", "disabled", [*OPENSSL_OFF, *KERNEL_OFF, "luks_pbkdf2"]),
    ("luks", "disabled", [*OPENSSL_OFF, *KERNEL_OFF, "sshd_algorithms"]),
])
def test_each_layer_alone(playbook, host, layer, status, problems):
    host.apply(playbook, layer)
    facts, results = host.facts(playbook)
    assert facts["status"] == status
    assert problem_ids(facts) == sorted(problems)
    needs_more = ("kernel_fips_running", "cryptsetup_fips_mode")  # need a reboot / OpenSSL too
    for check in results.values():
        if check["layer"] == layer and check["id"] not in needs_more:
            assert check["passed"] is True, check


def test_all_layers_then_reboot(playbook, host):
    for layer in ("sshd", "openssl", "luks", "kernel"):
        host.apply(playbook, layer)
    facts, results = host.facts(playbook)
    assert facts["status"] == "pending_reboot"
    assert problem_ids(facts) == ["kernel_fips_running"]
    assert facts["kernel"]["reboot_pending"] is True
    assert results["kernel_fips_running"]["passed"] is False
    assert facts["cryptsetup"]["fips_mode"] is True
    host.boot(fips=True)
    facts, results = host.facts(playbook)
    assert facts["status"] == "enabled"
    assert facts["problems"] == []
    assert all(r["passed"] is True for r in results.values()), \
        [r for r in results.values() if r["passed"] is not True]


def test_the_update_guard_is_installed_only_when_it_runs_at_boot(playbook, host):
    """installed: the script, the unit and the link that enables it, as openssl_fips installs
    them; without the link (systemctl disable) the guard would not run at the next boot."""
    def guard():
        return host.facts(playbook, gather=["openssl"])[0]["openssl"]["update_guard"]

    before = guard()
    assert before["installed"] is False and len(before["missing"]) == 3
    # a release without a shipped fipsmodule.cnf (LTS): openssl_fips generates it, and the guard
    os.unlink(host.openssl.fipsmodule_cnf)
    host.apply(playbook, "openssl")
    after = guard()
    assert after["installed"] is True and after["missing"] == [], after
    assert after["accepts_unverified"] is False
    wants = os.path.join(host.root, "etc/systemd/system/sysinit.target.wants",
                         "flatcar-fips-fipsmodule.service")
    os.unlink(wants)
    disabled = guard()
    assert disabled["installed"] is False and disabled["missing"] == [wants], disabled
    os.symlink(os.path.join(host.root, "nowhere.service"), wants)  # dangling: does not run
    assert guard()["missing"] == [wants]


def test_skipping_layers(playbook, host):
    facts, results = host.facts(playbook, gather=["kernel", "openssl"])
    assert facts["gathered"] == ["kernel", "openssl"]
    assert "sshd" not in facts and "luks" not in facts
    assert results["sshd_algorithms"]["passed"] is None
    assert "not gathered" in results["sshd_algorithms"]["reason"]


def test_a_broken_module_is_reported_not_fatal(playbook, host):
    host.apply(playbook, "openssl")
    with open(host.openssl.module, "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 1]))
    facts, _results = host.facts(playbook)
    assert facts["openssl"]["fipsmodule_cnf"]["verified"] is False
    assert facts["openssl"]["provider_active"] is False
    assert "openssl_fipsmodule_verified" in problem_ids(facts)
    assert facts["status"] == "partial"


# --- plans: the writers' check mode, made in the facts run (one round trip) -------------------

def writer_options(host):
    """What the writer playbooks (tests/integration/playbooks) pass for this tree, beyond the
    paths fips_facts already reads (those a plan takes from the facts options)."""
    root = host.root
    return dict(
        sshd=dict(drop_in=root + "/sshd/etc/ssh/sshd_config.d/05-fips.conf",
                  passwd_file=root + "/sshd/passwd", socket_activated=False,
                  supported_cache=host.sshd.supported_cache),
        openssl=dict(update_guard_script=root + "/etc/flatcar-fips/fipsmodule-refresh",
                     update_guard_status_file=root + "/run/flatcar-fips/fipsmodule-refresh.status",
                     systemd_dir=root + "/etc/systemd/system",
                     distribution_openssl_cnf=[root + "/usr/share/flatcar/etc/ssl/openssl.cnf",
                                               root + "/usr/share/ssl/openssl.cnf"]),
        kernel=dict(present=["fips=1"]))


def writer_check(playbook, host, layer):
    """The writer module itself in check mode, as the role would run it."""
    root = host.root
    if layer == "kernel":
        run = playbook("kernel_args.yml", dict(grub_cfg=root + "/oem/grub.cfg",
                                               proc_cmdline=root + "/proc/cmdline",
                                               present=["fips=1"]), check=True)
        return run.task("Manage kernel arguments")
    if layer == "openssl":
        run = playbook("openssl_fips.yml", dict(root=root), env=host.env, check=True)
        return run.task("Manage the OpenSSL FIPS provider")
    run = playbook("sshd_crypto.yml", dict(root=host.sshd.root), check=True)
    return run.task("Only FIPS-approved sshd algorithms")


def test_plans_are_the_writers_check_mode(playbook, host):
    """Before anything every writer has work, and each plan names exactly the files the writer's
    own check mode names; once every layer is applied, every plan is empty (the role then calls
    no writer), and the kernel plan says the reboot is still due until the host boots with it."""
    facts = host.facts(playbook, plan=writer_options(host))[0]
    plans = host.last["plan"]
    for layer in ("sshd", "openssl", "kernel"):
        plan, check = plans[layer], writer_check(playbook, host, layer)
        assert plan["error"] is None, plan
        assert plan["changed"] is True and check["changed"] is True
        assert plan["files"] == check["files_changed"], layer
    assert plans["kernel"]["reboot_required"] is True
    # the facts read is untouched by the plans
    assert facts["status"] == "disabled"

    for layer in ("sshd", "openssl", "luks", "kernel"):
        host.apply(playbook, layer)
    host.facts(playbook, plan=writer_options(host))
    plans = host.last["plan"]
    assert {layer: p["changed"] for layer, p in plans.items()} == dict(
        sshd=False, openssl=False, kernel=False)
    assert all(p["files"] == [] and p["error"] is None for p in plans.values())
    assert plans["kernel"]["reboot_required"] is True
    for layer in ("sshd", "openssl", "kernel"):
        assert writer_check(playbook, host, layer)["changed"] is False

    host.boot(fips=True)
    facts = host.facts(playbook, plan=writer_options(host))[0]
    assert facts["status"] == "enabled"
    assert host.last["plan"]["kernel"]["reboot_required"] is False


def test_a_plan_that_cannot_be_made_says_why(playbook, host):
    """A plan the writer would fail on is not empty: changed is null with the writer's message
    (the role then runs the writer, which fails with it); bad options are named."""
    os.remove(os.path.join(host.root, "usr/lib64/ossl-modules/fips.so"))
    options = writer_options(host)
    options["kernel"]["present"] = ["fips=1", "bad arg"]
    options["sshd"]["no_such_option"] = 1
    host.facts(playbook, plan=options)
    plans = host.last["plan"]
    assert plans["openssl"]["changed"] is None
    assert "does not exist" in plans["openssl"]["error"]
    assert plans["kernel"]["changed"] is None
    assert "Invalid kernel argument" in plans["kernel"]["error"]
    assert plans["sshd"]["changed"] is None and "no_such_option" in plans["sshd"]["error"]
    assert os.path.exists(os.path.join(host.root, "oem/grub.cfg"))


def test_the_read_runs_each_command_once(playbook, host):
    """What the read costs on the host: every program started is counted; the plans reuse what
    the facts read already ran (the openssl checks of a configuration that is already in place)."""
    for layer in ("sshd", "openssl", "luks", "kernel"):
        host.apply(playbook, layer)
    host.facts(playbook)
    alone = host.last["commands"]
    host.facts(playbook, plan=writer_options(host))
    planned = host.last["commands"]
    assert alone["reused"] == 0
    assert alone["by_program"] == dict(openssl=5, sshd=1, cryptsetup=2), alone
    # the openssl plan runs no openssl command of its own: the file in place is the candidate,
    # and the read already checked it (and verified fipsmodule.cnf against fips.so)
    assert planned["by_program"]["openssl"] == alone["by_program"]["openssl"], planned
    # sshd: the read's sshd -T of the main file, which the plan reuses for the current
    # configuration; no sshd -T per connection spec, as no file has a Match line (each spec
    # gets what sshd -T printed); nothing for the candidate, which is the current
    # configuration byte for byte (no sshd -t either: sshd -T checked it); and no ssh -Q: the
    # sshd writer's run kept its answers for this ssh binary
    assert planned["by_program"] == alone["by_program"], planned
    assert planned["reused"] >= 1 + 3, planned
    # a Match block (even one that sets no algorithm): then each spec is asked about
    with open(host.sshd.main, "a") as f:
        f.write("Match User nobody\n    X11Forwarding no\n")
    host.facts(playbook, plan=writer_options(host))
    assert host.last["plan"]["sshd"]["changed"] is False, host.last["plan"]["sshd"]
    assert host.last["commands"]["by_program"]["sshd"] == 1 + 2, host.last["commands"]


def test_a_read_of_some_layers_with_the_earlier_read_stays_whole(playbook, host):
    """What the role does after changing OpenSSL without a reboot: read OpenSSL again (and luks,
    for cryptsetup's FIPS mode, which follows it), the rest from its preflight's read. The
    facts stay whole and are judged as a whole; the fresh layers are the ones read now."""
    for layer in ("sshd", "openssl", "luks", "kernel"):
        host.apply(playbook, layer)
    earlier, _results = host.facts(playbook)
    assert "read_again" not in earlier
    os.remove(os.path.join(host.root, "etc/system-fips"))
    facts, results = host.facts(playbook, gather=["openssl", "luks"], earlier_read=earlier)
    assert facts["read_again"] == ["openssl", "luks"]
    assert facts["gathered"] == ["kernel", "openssl", "sshd", "luks"]
    assert facts["system_fips_marker"] is False  # read now, not the earlier True
    assert facts["sshd"] == earlier["sshd"] and facts["kernel"] == earlier["kernel"]
    assert not any(r["passed"] is None and "not gathered" in str(r["reason"])
                   for r in results.values()), results
    # the problems of the earlier read (this tree does not run a FIPS kernel), and the new one
    assert "system_fips_marker" not in problem_ids(earlier)
    assert problem_ids(facts) == sorted([*problem_ids(earlier), "system_fips_marker"])
    assert results["system_fips_marker"]["passed"] is False
    # earlier_read is the controller's: a value that is not a read is refused before the host
    run = playbook("fips_facts.yml", dict(root=host.root, earlier_read={"no": "gathered"}),
                   env=host.env)
    assert run.rc != 0 and "earlier_read must be the flatcar_fips facts" in run.stdout
