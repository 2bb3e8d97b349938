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
