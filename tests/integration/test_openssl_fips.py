# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.openssl_fips through a real ansible-playbook, with the real openssl and a real
fips.so built from OpenSSL source (make fips-so), on temp trees shaped like Flatcar stable and
LTS. Nothing is mocked: OpenSSL finds the tree's fips.so through OPENSSL_MODULES."""

import os
import shutil
import subprocess

import pytest
from openssl_tree import STOCK, fips_so, fipsinstall, snapshot

from ansible_collections.flatcar.fips.plugins.module_utils import fips_guard

TASK = "Manage the OpenSSL FIPS provider"


def run(playbook, tree, check=False, diff=False, **extra):
    return playbook("openssl_fips.yml", tree.vars(**extra), check=check, diff=diff, env=tree.env)


PREDICTED = ("changed", "actions", "files_changed", "fipsmodule_generated", "openssl_cnf_changes",
             "provider_active", "md5_refused", "fips_provider_version", "openssl_version")


def check_then_apply(playbook, tree, **extra):
    before = snapshot(tree.root)
    check = run(playbook, tree, check=True, **extra)
    assert check.rc == 0, check.stdout
    assert snapshot(tree.root) == before, "check mode changed the tree"
    apply = run(playbook, tree, **extra)
    assert apply.rc == 0, apply.stdout
    predicted, done = check.task(TASK), apply.task(TASK)
    for key in PREDICTED:
        assert predicted[key] == done[key], key
    return done


def test_a_guard_provisioned_with_a_shipped_fipsmodule_is_kept(playbook, stable):
    """A node provisioned by flatcar.fips.ignition_config's config carries the guard whether or
    not the release ships fipsmodule.cnf; on stable (shipped) the module keeps it, so that the
    role and the first-boot config agree (flatcar.fips.enable changes nothing on such a node)."""
    wants = os.path.join(os.path.dirname(stable.unit), "sysinit.target.wants",
                         os.path.basename(stable.unit))
    # what first boot leaves, with this tree's paths
    os.makedirs(os.path.dirname(stable.guard))
    os.makedirs(os.path.dirname(wants))
    with open(stable.guard, "w") as f:
        f.write(fips_guard.script(shutil.which("openssl"), stable.module, stable.fipsmodule_cnf,
                                  os.path.join(stable.root, "run/flatcar-fips/"
                                               "fipsmodule-refresh.status"), False))
    os.chmod(stable.guard, 0o755)
    with open(stable.unit, "w") as f:
        f.write(fips_guard.unit(stable.module, stable.guard))
    os.symlink(stable.unit, wants)
    result = check_then_apply(playbook, stable, openssl_path=shutil.which("openssl"))
    assert result["actions"]["update_guard"] == "present", result["actions"]
    assert result["actions"]["fipsmodule_cnf"] == "kept"
    again = run(playbook, stable, openssl_path=shutil.which("openssl"))
    assert again.task(TASK)["changed"] is False
    off = run(playbook, stable, update_guard=False, openssl_path=shutil.which("openssl"))
    assert off.task(TASK)["actions"]["update_guard"] == "removed"
    assert not os.path.lexists(wants) and not os.path.exists(stable.guard)


def test_enable_stable_keeps_the_shipped_fipsmodule(playbook, stable):
    shipped = snapshot(stable.root)["etc/ssl/fipsmodule.cnf"]
    result = check_then_apply(playbook, stable)
    assert result["changed"] is True
    assert result["actions"] == dict(openssl_cnf="updated", fipsmodule_cnf="kept",
                                     system_fips="created", update_guard="absent")
    assert result["fipsmodule_verified"] is True and result["fipsmodule_generated"] is False
    assert result["provider_active"] is True and result["md5_refused"] is True
    assert snapshot(stable.root)["etc/ssl/fipsmodule.cnf"] == shipped
    assert os.path.isfile(os.path.join(stable.root, "etc/system-fips"))
    assert not os.path.exists(stable.guard) and not os.path.exists(stable.unit)
    with open(stable.openssl_cnf) as f:
        text = f.read()
    assert text.rstrip().endswith(".include %s" % stable.fipsmodule_cnf)
    assert "[ CA_default ]" in text and "default_ca\t= CA_default\t\t# The default ca section" \
        in text, "lines the module does not own were lost"
    stable.assert_fips_active()

    again = run(playbook, stable)
    assert again.rc == 0
    assert again.task(TASK)["changed"] is False
    assert again.task(TASK)["actions"]["openssl_cnf"] == "unchanged"


def test_enable_lts_replaces_the_symlink_and_generates(playbook, lts):
    usr_copy = snapshot(lts.root)["usr/share/ssl/openssl.cnf"]
    result = check_then_apply(playbook, lts)
    assert result["actions"] == dict(openssl_cnf="replaced_symlink", fipsmodule_cnf="generated",
                                     system_fips="created", update_guard="installed")
    assert result["fipsmodule_generated"] is True
    assert not os.path.islink(lts.openssl_cnf) and os.path.isfile(lts.openssl_cnf)
    assert snapshot(lts.root)["usr/share/ssl/openssl.cnf"] == usr_copy, "wrote through the link"
    assert os.readlink(lts.openssl_cnf + ".pre-fips") == "../../usr/share/ssl/openssl.cnf"
    with open(lts.fipsmodule_cnf) as f:
        assert f.read().startswith("# Generated by flatcar.fips.openssl_fips")
    assert os.access(lts.guard, os.X_OK)
    assert os.readlink(lts.wants) == lts.unit
    with open(lts.unit) as f:
        unit = f.read()
    assert "ExecStart=%s" % lts.guard in unit and "Before=sysinit.target" in unit
    lts.assert_fips_active()
    assert run(playbook, lts).task(TASK)["changed"] is False


def test_disable_restores_stable_byte_for_byte(playbook, stable):
    original = snapshot(stable.root)
    assert run(playbook, stable).rc == 0
    result = check_then_apply(playbook, stable, state="disabled")
    assert result["actions"] == dict(openssl_cnf="restored", fipsmodule_cnf="kept",
                                     system_fips="removed", update_guard="absent")
    assert snapshot(stable.root) == original
    assert stable.openssl("dgst", "-md5").returncode == 0, "still in FIPS mode after disable"
    assert run(playbook, stable, state="disabled").task(TASK)["changed"] is False


def test_disable_restores_lts_symlink_and_removes_what_it_created(playbook, lts):
    original = snapshot(lts.root)
    assert run(playbook, lts).rc == 0
    result = check_then_apply(playbook, lts, state="disabled")
    assert result["actions"] == dict(openssl_cnf="restored", fipsmodule_cnf="removed",
                                     system_fips="removed", update_guard="removed")
    after = snapshot(lts.root)
    # the directories the guard lived in may stay; every file and link is as before
    assert {k: v for k, v in after.items() if v != ("dir",)} == \
        {k: v for k, v in original.items() if v != ("dir",)}


def test_disable_without_saved_copy_uses_the_distribution_default(playbook, stable):
    assert run(playbook, stable).rc == 0
    os.unlink(stable.openssl_cnf + ".pre-fips")
    result = run(playbook, stable, state="disabled")
    assert result.rc == 0
    assert result.task(TASK)["actions"]["openssl_cnf"] == "restored_distribution_default"
    with open(stable.openssl_cnf) as f, open(STOCK) as g:
        assert f.read() == g.read()


def test_tampered_module_is_refused_and_nothing_written(playbook, stable):
    with open(stable.module, "r+b") as f:
        f.seek(os.path.getsize(stable.module) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))
    before = snapshot(stable.root)
    result = run(playbook, stable)
    assert result.rc != 0
    msg = result.task(TASK)["msg"]
    assert "does not verify" in msg and "Nothing was changed" in msg
    assert "Module integrity mismatch" in msg or "VERIFY FAILED" in msg
    assert snapshot(stable.root) == before


def test_os_update_on_unverified_storage_is_refused_by_the_guard(playbook, lts):
    """The module generated fipsmodule.cnf (pinned in /etc); then fips.so changes where nothing
    verifies it (this machine has no dm-verity: the temp tree is on a plain block device). The
    guard must not bless that module: it refuses, says why on stderr (the journal, at boot) and
    in its status file (fips_facts), exits 1 and leaves the file alone. The VM testbed proves
    the other branch, on a real dm-verity device (extensions/molecule/shared/verify.yml)."""
    result = run(playbook, lts)
    assert result.rc == 0
    storage = result.task(TASK)["module_storage"]
    assert storage["status"] == "fail" and "not a device-mapper device" in storage["reason"]
    assert any("guard will not regenerate" in w["event"]["msg"] if isinstance(w, dict) else
               "guard will not regenerate" in w for w in result.task(TASK).get("warnings", []))
    lts.swap_module("update")
    before = open(lts.fipsmodule_cnf, "rb").read()
    guard = subprocess.run(["sh", lts.guard], capture_output=True, text=True, check=False,
                           timeout=300)
    assert guard.returncode == 1, guard.stderr
    assert "REFUSED to regenerate" in guard.stderr and "not a device-mapper device" in guard.stderr
    assert open(lts.fipsmodule_cnf, "rb").read() == before
    status = open(os.path.join(lts.root, "run/flatcar-fips/fipsmodule-refresh.status")).read()
    assert "result=refused" in status and "not a device-mapper device" in status
    listed = lts.openssl("list", "-providers").stdout.decode()
    assert "OpenSSL FIPS Provider" not in listed, "the unverified module was not blessed"
    check = subprocess.run(["sh", lts.guard, "--check"], capture_output=True, text=True,
                           check=False, timeout=60)
    assert check.returncode == 1 and "not a device-mapper device" in check.stdout


def test_os_update_replacing_fips_so_on_lts_is_survived(playbook, lts):
    """With update_guard_accept_unverified (this machine stands for trusted storage): an update
    ships another fips.so. Without the guard every OpenSSL program loses the fips provider; the
    boot-time guard script regenerates the file before sshd starts."""
    assert run(playbook, lts, accept_unverified=True).rc == 0
    lts.assert_fips_active(version="3.0.22")
    # the script as installed is clean POSIX sh
    lint = subprocess.run(["shellcheck", "-s", "sh", lts.guard], capture_output=True, text=True,
                          check=False, timeout=120)
    assert lint.returncode == 0, lint.stdout
    lts.swap_module("update")
    listed = lts.openssl("list", "-providers").stdout.decode()
    assert "OpenSSL FIPS Provider" not in listed, "the swap did not break the pinned config"

    guard = subprocess.run(["sh", lts.guard], capture_output=True, text=True, check=False,
                           timeout=300)
    assert guard.returncode == 0, guard.stderr
    assert "regenerated" in guard.stderr and "update_guard_accept_unverified" in guard.stderr
    update_version = open(os.path.join(os.path.dirname(fips_so("update")), "VERSION")).read()
    lts.assert_fips_active(version=update_version.split("-")[0])
    status = open(os.path.join(lts.root, "run/flatcar-fips/fipsmodule-refresh.status")).read()
    assert "result=regenerated" in status
    # on the next boot the file verifies and the guard does nothing
    quiet = subprocess.run(["sh", lts.guard], capture_output=True, text=True, check=False,
                           timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == ""
    # and the module agrees: nothing to do
    assert run(playbook, lts, accept_unverified=True).task(TASK)["changed"] is False


def test_module_rerun_after_update_regenerates_its_own_file(playbook, lts):
    assert run(playbook, lts).rc == 0
    lts.swap_module("update")
    result = run(playbook, lts)
    assert result.rc == 0, result.stdout
    assert result.task(TASK)["actions"]["fipsmodule_cnf"] == "regenerated"
    lts.assert_fips_active()


def test_os_update_on_stable_needs_nothing(playbook, stable):
    """On stable the image ships fipsmodule.cnf and it follows the update (lower /etc layer):
    the configuration the module wrote keeps working without any regeneration."""
    assert run(playbook, stable).rc == 0
    stable.swap_module("update")
    fipsinstall(stable.module, stable.fipsmodule_cnf)  # what the updated image ships
    stable.assert_fips_active()
    result = run(playbook, stable)
    assert result.task(TASK)["changed"] is False
    assert result.task(TASK)["actions"]["fipsmodule_cnf"] == "kept"


def test_without_fips_yes_default_property(playbook, stable):
    result = run(playbook, stable, default_properties_fips=False)
    assert result.rc == 0
    with open(stable.openssl_cnf) as f:
        assert "default_properties" not in f.read()
    stable.assert_fips_active()


def test_diff_and_backup(playbook, stable):
    with open(stable.openssl_cnf) as f:
        original = f.read()
    result = playbook("openssl_fips.yml", stable.vars(backup=True), diff=True, env=stable.env)
    assert result.rc == 0
    assert "+.include %s" % stable.fipsmodule_cnf in result.stdout
    assert "-default = default_sect" in result.stdout
    backup = result.task(TASK)["backup_files"][stable.openssl_cnf]
    with open(backup) as f:
        assert f.read() == original


@pytest.mark.parametrize("case", ["module missing", "module is a directory", "bad openssl.cnf",
                                  "openssl missing"])
def test_bad_input_fails_and_writes_nothing(playbook, stable, case):
    extra = {}
    if case == "module missing":
        extra["module_path"] = os.path.join(stable.root, "nope/fips.so")
        fragment = "does not exist"
    elif case == "module is a directory":
        extra["module_path"] = stable.modules
        fragment = "is a directory"
    elif case == "bad openssl.cnf":
        with open(stable.openssl_cnf, "a+") as f:
            f.seek(0)
            bad_line = len(f.read().splitlines()) + 1
            f.write("this line has no equal sign\n")
        fragment = "openssl.cnf line %d: not a [section], name = value" % bad_line
    else:
        extra["openssl_path"] = os.path.join(stable.root, "usr/bin/openssl")
        fragment = "openssl program was not found"
    before = snapshot(stable.root)
    result = run(playbook, stable, **extra)
    assert result.rc != 0
    assert fragment in result.task(TASK)["msg"]
    assert snapshot(stable.root) == before
