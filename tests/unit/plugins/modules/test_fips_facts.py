# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fips_facts through AnsibleModule, one layer at a time, on real-shaped files; a partial or
non-Flatcar host gives null with a reason, never a failure.

The module only reports: it returns no status and no problems. The verdict comes from the one
judge (plugin_utils.compliance, which the fips_facts action runs on the controller); these tests
feed it the module's facts to show that the facts carry what the judge needs."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ansible_collections.flatcar.fips.plugins.modules import fips_facts
from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance

QEMU_FIPS = ('set oem_id="qemu"\nset linux_append="$linux_append flatcar.autologin fips=1"\n')


FLATCAR = 'ID=flatcar\nVERSION_ID=4081.2.0\nPRETTY_NAME="Flatcar Container Linux 4081.2.0"\n'


def facts_of(run_module, **args):
    r = run_module(fips_facts.main, args)
    assert r["_rc"] == 0 and r["changed"] is False, r
    facts = r["ansible_facts"]["flatcar_fips"]
    assert "status" not in facts and "problems" not in facts  # the module does not judge
    return facts


def judged(facts):
    return dict(facts, **compliance.verdict(facts))


@pytest.fixture
def kernel_files(tmp_path):
    (tmp_path / "grub.cfg").write_text(QEMU_FIPS)
    (tmp_path / "cmdline").write_text("root=LABEL=ROOT flatcar.autologin\n")
    (tmp_path / "fips_enabled").write_text("0\n")
    (tmp_path / "flatcar-os-release").write_text(FLATCAR)
    return dict(grub_cfg=str(tmp_path / "grub.cfg"), proc_cmdline=str(tmp_path / "cmdline"),
                fips_enabled_path=str(tmp_path / "fips_enabled"), gather=["kernel"],
                os_release=str(tmp_path / "flatcar-os-release"),
                secure_boot_efivar=str(tmp_path / "no-efivar"))


def test_kernel_pending_reboot(run_module, kernel_files):
    facts = judged(facts_of(run_module, **kernel_files))
    kernel = facts["kernel"]
    assert kernel["configured_args"] == ["flatcar.autologin", "fips=1"]
    assert kernel["fips_configured"] is True and kernel["fips_enabled"] == 0
    assert kernel["reboot_pending"] is True
    assert facts["status"] == "pending_reboot"
    assert [p["id"] for p in facts["problems"]] == ["kernel_fips_running"]
    assert facts["gathered"] == ["kernel"]


def test_kernel_enabled(run_module, kernel_files, tmp_path):
    (tmp_path / "fips_enabled").write_text("1\n")
    (tmp_path / "cmdline").write_text("root=LABEL=ROOT flatcar.autologin fips=1\n")
    facts = judged(facts_of(run_module, **kernel_files))
    assert facts["status"] == "enabled" and facts["problems"] == []
    assert facts["kernel"]["reboot_pending"] is False


def test_kernel_without_fips_support(run_module, kernel_files, tmp_path):
    (tmp_path / "fips_enabled").unlink()
    facts = facts_of(run_module, **kernel_files)
    assert facts["kernel"]["fips_enabled"] is None
    assert "CONFIG_CRYPTO_FIPS" in facts["errors"]["kernel.fips_enabled"]
    assert facts["kernel"]["reboot_pending"] is None


def test_unparsable_grub_cfg_is_reported_not_fatal(run_module, kernel_files, tmp_path):
    (tmp_path / "grub.cfg").write_text('set linux_append="$linux_append $x"\n')
    facts = facts_of(run_module, **kernel_files)
    assert facts["kernel"]["configured_args"] is None
    assert "line 1" in facts["errors"]["kernel.configured_args"]


def test_no_oem_grub_cfg(run_module, kernel_files, tmp_path):
    (tmp_path / "grub.cfg").unlink()
    facts = judged(facts_of(run_module, **kernel_files))
    assert facts["kernel"]["grub_cfg_present"] is False
    assert facts["kernel"]["fips_configured"] is False
    assert facts["status"] == "disabled"


def test_openssl_missing(run_module, tmp_path):
    facts = facts_of(run_module, gather=["openssl"], openssl=str(tmp_path / "no-openssl"))
    assert facts["openssl"]["provider_active"] is None
    assert facts["errors"]["openssl"]


@pytest.mark.parametrize(("stderr", "cause"), [
    ("Missing privilege separation directory: /run/sshd", "runtime_directory"),
    ("/etc/ssh/sshd_config line 3: Bad configuration option: NoSuchKeyword", "config"),
    ("Permissions 0644 for '/etc/ssh/ssh_host_ecdsa_key' are too open.", "host_key_permissions"),
])
def test_sshd_failure_causes_are_told_apart(run_module, tmp_path, stderr, cause):
    """A stand-in sshd that fails the way the real one does (the real one cannot be made to
    miss /run/sshd on this machine without breaking the other sshd tests running beside)."""
    sshd = tmp_path / "sshd"
    sshd.write_text("#!/bin/sh\necho %r >&2\nexit 255\n" % stderr)
    sshd.chmod(0o755)
    (tmp_path / "sshd_config").write_text("Port 22\n")
    facts = judged(facts_of(run_module, gather=["sshd"], sshd=str(sshd),
                            sshd_config=str(tmp_path / "sshd_config")))
    assert facts["sshd"]["config_ok"] is False
    assert facts["sshd"]["config_error"] == dict(cause=cause, message=stderr)
    checks = {c["id"]: c for c in facts["checks"]}
    assert checks["sshd_config_valid"]["passed"] is False
    assert checks["sshd_algorithms"]["passed"] is None  # unknown, with sshd's reason
    if cause == "runtime_directory":
        assert "not a configuration problem" in checks["sshd_algorithms"]["reason"]
    else:
        assert "not a configuration problem" not in facts["errors"]["sshd"]


@pytest.fixture
def open_dir():
    """A directory that another user may enter (pytest's tmp_path sits under one that only
    root may enter)."""
    path = tempfile.mkdtemp(prefix="flatcar-fips-test.")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path)


def test_sshd_as_another_user_than_root_is_unknown_not_a_failure(run_module, open_dir,
                                                                 monkeypatch):
    """Without become, sshd -T cannot load the root-only host keys: that says nothing about the
    configuration. The real sshd runs as nobody (setpriv) on a real 0600 key; the module runs in
    this root pytest process, so its own uid is the only thing patched."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(open_dir / "hk")],
                   check=True)
    (open_dir / "sshd_config").write_text("HostKey %s\n" % (open_dir / "hk"))
    (open_dir / "sshd_config").chmod(0o644)
    sshd = open_dir / "sshd-as-nobody"
    sshd.write_text("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "
                    "/usr/sbin/sshd \"$@\"\n")
    sshd.chmod(0o755)
    args = dict(gather=["sshd"], sshd=str(sshd), sshd_config=str(open_dir / "sshd_config"))
    monkeypatch.setattr(fips_facts.os, "geteuid", lambda: 65534)
    facts = judged(facts_of(run_module, **args))
    assert facts["sshd"]["config_ok"] is None and facts["sshd"]["config_error"] is None
    assert "ran as uid 65534, not root" in facts["errors"]["sshd"]
    assert "Unable to load host key: %s" % (open_dir / "hk") in facts["errors"]["sshd"]
    checks = {c["id"]: c for c in facts["checks"]}
    assert checks["sshd_config_valid"]["passed"] is None
    assert "become" in checks["sshd_config_valid"]["reason"]
    assert facts["layers"]["sshd"] == "unknown"
    # As root, a host key sshd cannot load is a failure of the configuration.
    monkeypatch.undo()
    (open_dir / "hk").unlink()
    sshd.write_text("#!/bin/sh\nexec /usr/sbin/sshd \"$@\"\n")
    facts = judged(facts_of(run_module, **args))
    assert facts["sshd"]["config_ok"] is False
    assert facts["sshd"]["config_error"]["cause"] == "host_key"
    assert {c["id"]: c for c in facts["checks"]}["sshd_config_valid"]["passed"] is False


def test_sshd_missing(run_module, tmp_path):
    facts = facts_of(run_module, gather=["sshd"], sshd=str(tmp_path / "no-sshd"),
                     sshd_config=str(tmp_path / "sshd_config"))
    assert facts["sshd"]["effective"] is None
    assert "sshd" in facts["errors"]


def test_luks_headers(run_module, tmp_path):
    images = []
    for kdf in ("argon2id", "pbkdf2"):
        path = tmp_path / ("%s.img" % kdf)
        with open(path, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        cost = ["--pbkdf-memory", "32", "--pbkdf-parallel", "1", "--pbkdf-force-iterations",
                "4"] if kdf == "argon2id" else ["--pbkdf-force-iterations", "1000"]
        subprocess.run(["cryptsetup", "--batch-mode", "luksFormat", "--type", "luks2", "--pbkdf",
                        kdf, *cost, "--key-file=-", str(path)], input=b"k", check=True,
                       capture_output=True)
        images.append(str(path))
    (tmp_path / "plain.img").write_bytes(b"\0" * 8192)
    facts = judged(facts_of(run_module, gather=["luks"],
                            luks_devices=[*images, str(tmp_path / "plain.img")]))
    assert facts["luks"]["argon2_keyslots"] == {images[0]: ["0"]}
    assert facts["luks"]["devices"][images[1]]["keyslots"] == {"0": "pbkdf2"}
    assert str(tmp_path / "plain.img") not in facts["luks"]["devices"]
    luks = [p for p in facts["problems"] if p["layer"] == "luks" and p["result"] == "fail"]
    assert next(p["id"] for p in luks) == "luks_pbkdf2"
    assert facts["cryptsetup"]["version"]


# --- system: distribution, release, Secure Boot ------------------------------------------------

FLATCAR_OS_RELEASE = """NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=%s
VERSION_ID=%s
PRETTY_NAME="Flatcar Container Linux by Kinvolk %s (Oklo)"
"""


def efivar(path, on):
    # efivarfs: four bytes of attributes, then the variable's one-byte value
    path.write_bytes(b"\x06\x00\x00\x00" + (b"\x01" if on else b"\x00"))
    return str(path)


@pytest.mark.parametrize(
    "version, secure_boot, ignored",
    [
        ("3815.2.5", True, True),     # older stable + Secure Boot: OEM grub.cfg skipped
        ("3975.2.0", True, False),    # the first stable that reads it under Secure Boot
        ("4081.2.0", True, False),
        ("3510.3.6", True, True),     # LTS 2023 is older than 3975.2.0
        ("3815.2.5", False, False),   # Secure Boot off: every release reads it
    ],
)
def test_system_flatcar_secure_boot(run_module, kernel_files, tmp_path, version, secure_boot,
                                    ignored):
    (tmp_path / "os-release").write_text(FLATCAR_OS_RELEASE % (version, version, version))
    args = dict(kernel_files, os_release=str(tmp_path / "os-release"),
                secure_boot_efivar=efivar(tmp_path / "SecureBoot", secure_boot))
    facts = judged(facts_of(run_module, **args))
    system = facts["system"]
    assert system["os_id"] == "flatcar" and system["flatcar"] is True
    assert system["os_version"] == version
    assert system["os_name"] == "Flatcar Container Linux by Kinvolk %s (Oklo)" % version
    assert system["secure_boot"] is secure_boot
    assert system["oem_grub_cfg_ignored"] is ignored
    ids = [p["id"] for p in facts["problems"]]
    assert ("kernel_oem_grub_cfg_honoured" in ids) is ignored
    if ignored:
        problem = facts["problems"][ids.index("kernel_oem_grub_cfg_honoured")]
        assert problem["result"] == "fail" and "3975.2.0" in problem["remediation"]


def test_system_not_flatcar(run_module, kernel_files, tmp_path):
    (tmp_path / "os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
                                         'ID=debian\nVERSION_ID="12"\n# a comment\n\n')
    args = dict(kernel_files, os_release=str(tmp_path / "os-release"),
                secure_boot_efivar=efivar(tmp_path / "SecureBoot", True))
    facts = judged(facts_of(run_module, **args))
    assert facts["system"]["os_id"] == "debian" and facts["system"]["os_version"] == "12"
    assert facts["system"]["flatcar"] is False
    # The Secure Boot caveat is Flatcar's: unknown elsewhere. A non-Flatcar host is said to be
    # one, and is never "enabled".
    assert facts["system"]["oem_grub_cfg_ignored"] is None
    problems = {p["id"]: p for p in facts["problems"]}
    assert problems["system_flatcar"]["result"] == "fail"
    assert problems["kernel_oem_grub_cfg_honoured"]["result"] == "unknown"
    assert problems["kernel_oem_grub_cfg_honoured"]["message"].endswith(
        "not judged, the caveat is about Flatcar releases and this host runs: "
        "Debian GNU/Linux 12 (bookworm)")
    assert facts["layers"]["system"] == "fail" and facts["status"] != "enabled"


@pytest.mark.parametrize("uefi, listed, secure_boot", [
    (False, False, False),   # booted through BIOS: no Secure Boot
    (True, True, False),     # UEFI firmware without Secure Boot: efivarfs lists the others
    (True, False, None),     # efivarfs not mounted: unknown, with the reason
])
def test_secure_boot_without_the_variable(run_module, kernel_files, tmp_path, monkeypatch, uefi,
                                          listed, secure_boot):
    firmware = tmp_path / "firmware-efi"
    if uefi:
        firmware.mkdir()
    monkeypatch.setattr(fips_facts, "EFI_DIR", str(firmware))
    efivars = tmp_path / "efivars"
    efivars.mkdir()
    if listed:
        efivar(efivars / "BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c", False)
    missing = str(efivars / "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c")
    facts = judged(facts_of(run_module, **dict(kernel_files, secure_boot_efivar=missing)))
    assert facts["system"]["secure_boot"] is secure_boot
    honoured = {c["id"]: c for c in facts["checks"]}["kernel_oem_grub_cfg_honoured"]
    if secure_boot is None:
        assert facts["system"]["oem_grub_cfg_ignored"] is None
        assert "efivarfs is not mounted" in facts["errors"]["system.secure_boot"]
        assert honoured["passed"] is None and missing in honoured["reason"]
        assert facts["status"] != "enabled"
    else:
        assert "system.secure_boot" not in facts.get("errors", {})
        assert facts["system"]["oem_grub_cfg_ignored"] is False and honoured["passed"] is True


def test_system_without_os_release(run_module, kernel_files, tmp_path):
    args = dict(kernel_files, os_release=str(tmp_path / "missing"),
                secure_boot_efivar=str(tmp_path / "missing-var"))
    facts = judged(facts_of(run_module, **args))
    assert facts["system"]["os_id"] is None and facts["system"]["flatcar"] is False
    assert facts["system"]["os_release"] is None
    honoured = {c["id"]: c for c in facts["checks"]}["kernel_oem_grub_cfg_honoured"]
    assert honoured["passed"] is None
    assert honoured["reason"].endswith("this host runs: no readable os-release")


def test_reboot_signal(run_module, kernel_files, tmp_path):
    """The coordinator's sentinel: read only when asked; whose it is from its first line."""
    assert "reboot_signal" not in facts_of(run_module, **kernel_files)["system"]
    sentinel = tmp_path / "run" / "reboot-required"
    signal = facts_of(run_module, reboot_signal_path=str(sentinel), **kernel_files)["system"][
        "reboot_signal"]
    assert signal == dict(path=str(sentinel), present=False, dir_present=False,
                          by_collection=False, text="")
    sentinel.parent.mkdir()
    sentinel.write_text("flatcar.fips: reboot to make FIPS mode enabled effective\nmore\n")
    signal = facts_of(run_module, reboot_signal_path=str(sentinel), **kernel_files)["system"][
        "reboot_signal"]
    assert signal["present"] and signal["dir_present"] and signal["by_collection"]
    assert signal["text"] == "flatcar.fips: reboot to make FIPS mode enabled effective"
    sentinel.write_text("")  # kured's own (touch): present, not ours
    signal = facts_of(run_module, reboot_signal_path=str(sentinel), **kernel_files)["system"][
        "reboot_signal"]
    assert signal["present"] and not signal["by_collection"]


def test_system_with_an_unreadable_os_release(run_module, kernel_files, tmp_path):
    # Which distribution this is cannot be known: unknown with the reason, not "not Flatcar".
    (tmp_path / "os-release").mkdir()
    args = dict(kernel_files, os_release=str(tmp_path / "os-release"),
                secure_boot_efivar=efivar(tmp_path / "SecureBoot", True))
    facts = judged(facts_of(run_module, **args))
    assert facts["system"]["flatcar"] is None and facts["system"]["os_release"] is None
    assert str(tmp_path / "os-release") in facts["errors"]["system.os_release"]
    checks = {c["id"]: c for c in facts["checks"]}
    assert checks["system_flatcar"]["passed"] is None
    assert checks["system_flatcar"]["reason"].startswith("could not be read: system.os_release: ")
    assert checks["kernel_oem_grub_cfg_honoured"]["passed"] is None
    assert facts["layers"]["system"] == "unknown" and facts["status"] != "enabled"


@pytest.mark.parametrize("etc", ["missing", "dangling link", "flatcar"])
def test_os_release_paths(run_module, kernel_files, tmp_path, monkeypatch, etc):
    # os-release(5): /etc/os-release when it exists, else /usr/lib/os-release.
    usr = tmp_path / "usr-lib-os-release"
    usr.write_text(FLATCAR_OS_RELEASE % ("4081.2.0", "4081.2.0", "4081.2.0"))
    etc_path = tmp_path / "etc-os-release"
    if etc == "dangling link":
        etc_path.symlink_to(tmp_path / "nowhere")
    elif etc == "flatcar":
        etc_path.write_text(FLATCAR_OS_RELEASE % ("3975.2.0", "3975.2.0", "3975.2.0"))
    monkeypatch.setattr(fips_facts, "OS_RELEASE_PATHS", (str(etc_path), str(usr)))
    args = dict(kernel_files, secure_boot_efivar=efivar(tmp_path / "SecureBoot", False))
    del args["os_release"]
    system = facts_of(run_module, **args)["system"]
    read = etc_path if etc == "flatcar" else usr
    assert system["os_release"] == str(read) and system["flatcar"] is True
    assert system["os_version"] == ("3975.2.0" if etc == "flatcar" else "4081.2.0")
