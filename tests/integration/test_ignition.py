# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Born in FIPS mode: the config flatcar.fips.ignition renders, applied by real Ignition (Debian's
ignition package: fetch-offline, kargs, files, as Flatcar's initramfs runs them, through
tests/testbed/apply-ignition.sh and its Flatcar-like kargs helper) to a root directory, leaves
exactly what the modules write on a running host: the same openssl.cnf from the same stock file,
the same sshd drop-in, an OEM grub.cfg that kernel_args finds already done. The VM tier
(extensions/molecule/ignition) boots such a root."""

import json
import os
import shutil
import subprocess

from openssl_tree import Tree, fipsinstall
from sshd_layouts import Layout

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STOCK_35 = os.path.join(REPO, "data", "ignition", "openssl.cnf.openssl-3.5")
APPLY = os.path.join(REPO, "tests", "testbed", "apply-ignition.sh")
OEM = os.path.join(REPO, "tests", "testbed", "files", "oem-grub.cfg")


def render(tmp_path, playbook_dir, **extra):
    """flatcar.fips.ignition, as an operator runs it, into tmp_path/out."""
    out = tmp_path / "out"
    cmd = [os.path.join(os.path.dirname(shutil.which("ansible-playbook") or ""),
                        "ansible-playbook"), "-i", "node-1,", "-c", "local",
           "flatcar.fips.ignition", "-e", json.dumps(dict(fips_ignition_dir=str(out), **extra))]
    proc = subprocess.run(cmd, cwd=str(playbook_dir), capture_output=True, text=True,
                          check=False, timeout=300, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def apply(config, root, oem_cfg):
    proc = subprocess.run(["bash", APPLY, str(config), str(root), str(oem_cfg)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stderr


def test_ignition_leaves_what_the_modules_write(playbook, tmp_path, keys):
    out = render(tmp_path, tmp_path, fips_mode_sshd_allow_hmac_sha1=False,
                 fips_mode_reboot_ok=True)  # run-time only: accepted, ignored
    assert sorted(os.listdir(out)) == ["node-1.fips.bu", "node-1.fips.ign"]
    config = out / "node-1.fips.ign"
    assert subprocess.run(["ignition-validate", str(config)], check=False).returncode == 0

    # first boot: real Ignition on a root shaped like stable (the stock openssl.cnf)
    root = tmp_path / "root"
    (root / "etc/ssl").mkdir(parents=True)
    (root / "etc/ssh/sshd_config.d").mkdir(parents=True)
    shutil.copy(STOCK_35, root / "etc/ssl/openssl.cnf")
    oem_cfg = tmp_path / "oem-grub.cfg"
    shutil.copy(OEM, oem_cfg)
    log = apply(config, root, oem_cfg)
    assert "ignition-kargs-helper" in log

    # a running host: the modules on a tree with the same stock file
    tree = Tree(str(tmp_path / "host"))
    shutil.copy(STOCK_35, tree.openssl_cnf)
    fipsinstall(tree.module, tree.fipsmodule_cnf)
    run = playbook("openssl_fips.yml", tree.vars(), env=tree.env)
    assert run.rc == 0, run.stdout
    with open(tree.openssl_cnf) as f:
        by_module = f.read().replace(str(tmp_path / "host"), "")
    assert (root / "etc/ssl/openssl.cnf").read_text() == by_module
    assert oct((root / "etc/ssl/openssl.cnf").stat().st_mode & 0o777) == "0o644"
    assert (root / "etc/system-fips").read_text() == ""

    sshd = Layout(str(tmp_path / "sshd"), "stable", keys)
    run = playbook("sshd_crypto.yml", dict(root=sshd.root))
    assert run.rc == 0, run.stdout
    with open(os.path.join(sshd.root, "etc/ssh/sshd_config.d/05-fips.conf")) as f:
        assert (root / "etc/ssh/sshd_config.d/05-fips.conf").read_text() == f.read()

    # the update guard is installed and enabled, as systemd's first-boot presets leave it
    unit = root / "etc/systemd/system/flatcar-fips-fipsmodule.service"
    assert unit.is_file()
    assert os.readlink(root / "etc/systemd/system/sysinit.target.wants"
                       / "flatcar-fips-fipsmodule.service") == "/etc/systemd/system/" + unit.name
    assert os.access(root / "etc/flatcar-fips/fipsmodule-refresh", os.X_OK)

    # the OEM grub.cfg: Flatcar's kargs rewrite, which kernel_args reads as already done
    assert 'set linux_append="$linux_append flatcar.autologin fips=1"' in oem_cfg.read_text()
    proc_cmdline = tmp_path / "cmdline"
    proc_cmdline.write_text("root=LABEL=ROOT flatcar.autologin\n")
    run = playbook("kernel_args.yml", dict(grub_cfg=str(oem_cfg), proc_cmdline=str(proc_cmdline),
                                           present=["fips=1"], absent=["fips=0"]))
    assert run.rc == 0, run.stdout
    assert run.task("Manage kernel arguments")["changed"] is False


def test_the_users_config_merged(tmp_path):
    base = tmp_path / "base.ign"
    base.write_text(json.dumps({"ignition": {"version": "3.3.0"}, "storage": {"files": [
        {"path": "/etc/hostname", "mode": 420, "contents": {"source": "data:,node-1"}}]}}))
    out = render(tmp_path, tmp_path, fips_ignition_base=str(base))
    merged = out / "node-1.ign"
    assert subprocess.run(["ignition-validate", str(merged)], check=False).returncode == 0
    root = tmp_path / "root"
    (root / "etc/ssl").mkdir(parents=True)
    shutil.copy(STOCK_35, root / "etc/ssl/openssl.cnf")
    oem_cfg = tmp_path / "oem-grub.cfg"
    shutil.copy(OEM, oem_cfg)
    apply(merged, root, oem_cfg)
    assert (root / "etc/hostname").read_text() == "node-1"
    assert "fips=yes" in (root / "etc/ssl/openssl.cnf").read_text()
