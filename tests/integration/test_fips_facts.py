# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.fips_facts, the compliance checks and the report playbook, through real
ansible-playbook runs against host trees brought into each state by the collection's own modules
(real fips.so, real sshd -T, real cryptsetup images).

Mocked, and why: /proc/sys/crypto/fips_enabled and /proc/cmdline are files in the tree. This
machine's kernel cannot be rebooted into fips=1 (the VM tier proves the kernel layer), so
"after the reboot" is written into those two files.
"""

import json
import os
import subprocess
import sys

import pytest
import xmlschema
from openssl_tree import STOCK, Tree, fipsinstall
from sshd_layouts import Layout

QEMU = '# Flatcar GRUB settings\n\nset oem_id="qemu"\nset linux_append="flatcar.autologin"\n'
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
        self.boot(fips=False)
        self.sshd = Layout(os.path.join(root, "sshd"), "lts", keys)
        self.luks = os.path.join(root, "data.img")
        with open(self.luks, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        subprocess.run(["cryptsetup", "--batch-mode", "luksFormat", "--type", "luks2", "--pbkdf",
                        "argon2id", *ARGON, "--key-file=-", self.luks], input=b"data",
                       check=True, capture_output=True, timeout=60)

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
        facts = run.task(FACTS)["ansible_facts"]["flatcar_fips"]
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


def test_before_anything(playbook, host):
    facts, results = host.facts(playbook)
    assert facts["status"] == "disabled"
    assert problem_ids(facts) == ["kernel_fips_configured", "luks_pbkdf2", "openssl_configured",
                                  "sshd_algorithms"]
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
    ("kernel", "partial", ["kernel_fips_running", "luks_pbkdf2", "openssl_configured",
                           "sshd_algorithms"]),
    ("openssl", "partial", ["kernel_fips_configured", "luks_pbkdf2", "sshd_algorithms"]),
    ("sshd", "disabled", ["kernel_fips_configured", "luks_pbkdf2", "openssl_configured"]),
    ("luks", "disabled", ["kernel_fips_configured", "openssl_configured", "sshd_algorithms"]),
])
def test_each_layer_alone(playbook, host, layer, status, problems):
    host.apply(playbook, layer)
    facts, results = host.facts(playbook)
    assert facts["status"] == status
    assert problem_ids(facts) == problems
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


def test_report_playbook(tmp_path, keys, ansible_env):
    """Three hosts (before, pending reboot, enabled) on this machine; the three outputs are
    parsed back, and the JUnit file is validated against tests/files/junit.xsd."""
    hosts = {}
    for name in ("before", "pending", "enabled"):
        hosts[name] = Host(str(tmp_path / name), keys)
    inventory = tmp_path / "inventory.json"  # JSON is YAML: the YAML inventory plugin reads it
    group = {}
    for name, h in hosts.items():
        options = dict(grub_cfg=h.root + "/oem/grub.cfg", proc_cmdline=h.root + "/proc/cmdline",
                       fips_enabled_path=h.root + "/proc/fips_enabled",
                       openssl_cnf=h.root + "/etc/ssl/openssl.cnf",
                       fipsmodule_cnf=h.root + "/etc/ssl/fipsmodule.cnf",
                       module=h.openssl.module, system_fips_path=h.root + "/etc/system-fips",
                       sshd_config=h.sshd.main, luks_devices=[h.luks])
        group[name] = dict(ansible_connection="local", ansible_python_interpreter=sys.executable,
                           fips_report_options=options)
    inventory.write_text(json.dumps({"flatcar": {"hosts": group}}))

    def play(name, root, **extra):
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
               "localhost,", "-c", "local",
               os.path.join(HERE, "playbooks", name), "-e", json.dumps(dict(root=root, **extra))]
        env = ansible_env(**hosts["before"].env)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    for name in ("pending", "enabled"):
        h = hosts[name]
        play("kernel_args.yml", None, grub_cfg=h.root + "/oem/grub.cfg",
             proc_cmdline=h.root + "/proc/cmdline", present=["fips=1"])
        play("openssl_fips.yml", h.root)
        play("sshd_crypto.yml", h.sshd.root)
        play("luks_pbkdf.yml", None, state="pbkdf2", device=h.luks, passphrase="data",
             pbkdf_iterations=1000, header_backup=h.root + "/luks.header")
    hosts["enabled"].boot(fips=True)

    out = tmp_path / "report"
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
           str(inventory), "flatcar.fips.report", "-e", "fips_report_dir=%s" % out]
    proc = subprocess.run(cmd, env=ansible_env(**hosts["before"].env), capture_output=True,
                          text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 hosts, 1 in FIPS mode" in proc.stdout

    report = json.loads((out / "report.json").read_text())
    assert {h: v["status"] for h, v in report["hosts"].items()} == \
        dict(before="disabled", pending="pending_reboot", enabled="enabled")
    assert report["hosts"]["enabled"]["layers"] == dict(kernel="pass", openssl="pass",
                                                        sshd="pass", luks="pass")
    assert report["hosts"]["pending"]["layers"]["kernel"] == "fail"
    assert report["hosts"]["before"]["layers"]["sshd"] == "fail"
    n_checks = len(report["hosts"]["enabled"]["checks"])
    assert report["totals"]["checks"] == 3 * n_checks

    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# FIPS report: 1 of 3 hosts in FIPS mode")
    assert "| host | status | kernel | openssl | sshd | luks |" in markdown
    assert "| enabled | enabled | pass | pass | pass | pass |" in markdown
    assert "| pending | pending_reboot | fail | pass | pass | pass |" in markdown
    assert "FAIL `kernel_fips_running` (kernel)" in markdown

    junit = out / "report.junit.xml"
    xmlschema.XMLSchema(JUNIT_XSD).validate(str(junit))
    root = xmlschema.XMLResource(str(junit)).root  # xmlschema parses with entities disabled
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 3 * n_checks == int(root.get("tests"))
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == int(root.get("failures")) == report["totals"]["failed"] > 0
    enabled_suite = root.find("./testsuite[@name='enabled']")
    assert enabled_suite.get("failures") == "0"
