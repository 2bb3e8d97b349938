#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: luks_pbkdf
short_description: Find and convert argon2 LUKS keyslots before FIPS mode makes them unopenable
version_added: 0.1.0
description:
  - On Flatcar (cryptsetup 2.6 or newer with the OpenSSL backend) FIPS mode allows only PBKDF2,
    and a keyslot that uses argon2i or argon2id cannot be opened at all. A LUKS2 volume formatted
    on a non-FIPS host uses argon2id, so the reboot into FIPS mode can leave it locked.
  - V(audit) (the default) lists LUKS devices, the PBKDF of every keyslot and the ones that are not
    PBKDF2. It reads the headers directly (no cryptsetup needed) and never changes anything.
  - V(pbkdf2) converts the non-PBKDF2 keyslots of O(device) that the given key opens, with
    C(cryptsetup luksConvertKey --pbkdf pbkdf2), after saving the header with
    C(cryptsetup luksHeaderBackup) (mode 0600). Each converted slot is then proven with
    C(cryptsetup open --test-passphrase); at the first failure the header is restored from the
    backup and the task fails.
  - A key that opens none of the non-PBKDF2 keyslots changes nothing and fails. Keyslots the key
    does not open stay as they are and are reported in RV(devices) (their owners need another
    run with their key).
  - "On a host already in FIPS mode (cryptsetup says so itself, see RV(cryptsetup_fips_mode)),
    cryptsetup refuses argon2: the keyslot could never be unlocked to convert it. The module then
    unlocks it, for the test and for C(luksConvertKey) only, outside FIPS mode (C(OPENSSL_CONF)
    set to C(/dev/null) for those cryptsetup processes: OpenSSL's default provider, which has
    argon2), and proves the converted PBKDF2 keyslot opens in FIPS mode, with the host's own
    configuration. RV(unlocked_outside_fips) lists those keyslots."
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the key is tried on each keyslot (C(--test-passphrase), read-only), so the
        slots that would be converted are reported exactly; nothing is written.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description: V(audit) reports; V(pbkdf2) converts keyslots of O(device).
    type: str
    choices: [audit, pbkdf2]
    default: audit
  devices:
    description:
      - With V(audit), the devices (or image files) to look at. By default every block device in
        C(/sys/class/block).
    type: list
    elements: path
  device:
    description: With V(pbkdf2), the LUKS device (or image file) to convert.
    type: path
  key_file:
    description: A file on the host holding the passphrase or key of the keyslots to convert.
    type: path
  passphrase:
    description: The passphrase of the keyslots to convert (given to cryptsetup on stdin).
    type: str
  key_slot:
    description: Convert only this keyslot.
    type: int
  header_backup:
    description:
      - Where the header is saved before the first change (mode 0600). An existing file is
        never overwritten.
      - Defaults to C(<header_backup_dir>/<uuid>.header) on the host.
      - "B(The backup holds the keyslots as they were), argon2 ones and those of passphrases
        removed later included: whoever has it and an old passphrase can restore access. Move it
        off the host (the P(flatcar.fips.fips_mode#role) role fetches it with
        C(fips_mode_luks_header_backup_fetch_dir)) and remove it (O(remove_header_backups)) once
        the converted volume is proven to open."
    type: path
  header_backup_dir:
    description: Where header backups go by default, and where O(remove_header_backups) looks.
    type: path
    default: /var/lib/flatcar-fips/luks
  remove_header_backups:
    description:
      - With O(state=pbkdf2), once the device's PBKDF2 keyslots have been proven to open with the
        given key (C(--test-passphrase), in this run, or now when an earlier run converted them),
        delete this device's header backups (C(<uuid>.header) and its timestamped siblings in
        O(header_backup_dir), and O(header_backup) when given). Nothing is removed when no
        PBKDF2 keyslot opens with the key.
    type: bool
    default: false
  pbkdf_hash:
    description: The hash for PBKDF2.
    type: str
    default: sha256
  iter_time:
    description: Milliseconds of PBKDF2 work per unlock (cryptsetup's C(--iter-time)).
    type: int
  pbkdf_iterations:
    description:
      - A fixed PBKDF2 iteration count (C(--pbkdf-force-iterations)) instead of a benchmark. Only
        for tests and slow devices; FIPS expects at least 1000, cryptsetup's benchmark gives far
        more.
    type: int
  cryptsetup:
    description: The cryptsetup program. Defaults to C(cryptsetup) on C(PATH).
    type: path
notes:
  - Stop services that use the volume if C(luksConvertKey) reports the device busy.
  - LUKS1 keyslots are always PBKDF2; they need no conversion.
  - "Unlocking outside FIPS mode applies to cryptsetup 2.6 and newer, whose FIPS mode follows
    OpenSSL's configuration. Older ones decide from the kernel flag and C(/etc/system-fips):
    convert their argon2 keyslots before the switch."
seealso:
  - name: cryptsetup FIPS mode
    description: cryptsetup 2.6 and later decide FIPS mode from OpenSSL's default properties.
    link: https://gitlab.com/cryptsetup/cryptsetup/-/blob/main/docs/v2.6.0-ReleaseNotes
"""

EXAMPLES = r"""
- name: Which LUKS keyslots would not open in FIPS mode
  flatcar.fips.luks_pbkdf:
  register: luks

- name: Convert the data volume's argon2id keyslot (key file on the host)
  flatcar.fips.luks_pbkdf:
    state: pbkdf2
    device: /dev/disk/by-partlabel/data
    key_file: /etc/luks/data.key

- name: Once the converted volume opens, delete its header backups (they keep the old keyslots)
  flatcar.fips.luks_pbkdf:
    state: pbkdf2
    device: /dev/disk/by-partlabel/data
    key_file: /etc/luks/data.key
    remove_header_backups: true

- name: Convert with a passphrase from the vault
  flatcar.fips.luks_pbkdf:
    state: pbkdf2
    device: /dev/vdb
    passphrase: "{{ vault_data_passphrase }}"
    header_backup: /root/vdb-before-fips.header
"""

RETURN = r"""
devices:
  description: Per LUKS device, its version and keyslots.
  returned: always
  type: dict
  sample:
    /dev/vdb:
      version: 2
      uuid: 4f1c9d8e-0c1e-4f5a-9a9e-3d2f0e6b7a11
      keyslots: {"0": {kdf: pbkdf2, hash: sha256}, "1": {kdf: argon2id}}
      non_pbkdf2: ["1"]
non_pbkdf2:
  description: Devices with keyslots that are not PBKDF2 (after the task), with those slots.
  returned: always
  type: dict
  sample: {/dev/vdb: ["1"]}
converted:
  description: Keyslots converted (or, in check mode, that would be), by device.
  returned: always
  type: dict
  sample: {/dev/vdb: ["0"]}
not_opened:
  description: Non-PBKDF2 keyslots the given key did not open (left unchanged).
  returned: with O(state=pbkdf2)
  type: list
  elements: str
header_backup:
  description: Where the header was saved before the conversion.
  returned: when keyslots were converted
  type: str
header_backups_removed:
  description: The header backups deleted (in check mode, that would be) after the proof.
  returned: with O(remove_header_backups=true)
  type: list
  elements: str
files_changed:
  description: Files created or removed (or that would be, in check mode) with O(state=pbkdf2)
    - the header backup, the backups removed; the device itself is in RV(converted).
  returned: with O(state=pbkdf2)
  type: list
  elements: str
rolled_back:
  description: On a failure while removing header backups, the backups put back as they were.
  returned: failed after a removal
  type: list
  elements: str
unreadable:
  description: Devices whose header could not be read, with the reason.
  returned: always
  type: dict
cryptsetup_fips_mode:
  description:
    - Whether cryptsetup runs in FIPS mode, as it says itself (C(Running in FIPS mode.)); V(null)
      when it does not say. Asked only when there are keyslots to convert.
  returned: with O(state=pbkdf2) when the device has non-PBKDF2 keyslots
  type: bool
unlocked_outside_fips:
  description: >-
    The argon2 keyslots that were unlocked outside FIPS mode (cryptsetup runs in FIPS mode on
    this host and refuses argon2), by device; each converted keyslot was then proven to open in
    FIPS mode. In check mode only the key test ran (read-only), and nothing was converted.
  returned: with O(state=pbkdf2) when the device has non-PBKDF2 keyslots
  type: dict
  sample: {/dev/vdb: ["1"]}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import cryptsetup_cli, files, luks2
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure


def describe(header):
    return dict(version=header["version"], uuid=header["uuid"], keyslots=header["keyslots"],
                non_pbkdf2=luks2.non_pbkdf2(header))


def _context(result):
    """The result so far, for a failure's extra keys: its ``msg`` (a re-run's note) gives way to
    the failure's own message."""
    return {key: value for key, value in result.items() if key != "msg"}


class LuksPbkdf:
    def __init__(self, module, changes):
        self.module = module
        self.changes = changes
        self.p = module.params
        # keyslots this run has already seen open with the key (each test costs a PBKDF2 run)
        self.proven = []
        # cryptsetup refuses argon2 in FIPS mode: argon2 keyslots are unlocked outside it
        self.fips = None

    def audit(self):
        paths = self.p["devices"] or luks2.block_devices()
        found, errors = luks2.scan(paths)
        for path in self.p["devices"] or []:
            if path not in found and path not in errors:
                errors[path] = "not a LUKS device"
        devices = {path: describe(h) for path, h in found.items()}
        return dict(changed=False, devices=devices, converted={}, unreadable=errors,
                    non_pbkdf2={p: d["non_pbkdf2"] for p, d in devices.items() if d["non_pbkdf2"]})

    # --- conversion ----------------------------------------------------------------------

    def cryptsetup(self, args, key=True, argon2=False):
        """Run cryptsetup; with ``argon2`` (unlocking an argon2 keyslot) outside FIPS mode when
        cryptsetup is in it: OPENSSL_CONF=/dev/null for this process only (OpenSSL's default
        provider, which has argon2; cryptsetup 2.6+ follows OpenSSL's configuration)."""
        cmd = [self.tool, "--batch-mode", *args]
        env = {"OPENSSL_CONF": os.devnull} if argon2 and self.fips else None
        data = None
        if key:
            if self.p["key_file"]:
                cmd += ["--key-file", self.p["key_file"]]
            else:
                cmd += ["--key-file=-"]
                data = self.p["passphrase"].encode("utf-8")
        return self.module.run_command(cmd, data=data, binary_data=True, environ_update=env)

    def opens(self, slot, argon2=False):
        rc, _out, _err = self.cryptsetup(["open", "--test-passphrase", "--key-slot", slot,
                                          self.device], argon2=argon2)
        return rc == 0

    def convert(self):
        device = self.device = self.p["device"]  # argument_spec: required with state=pbkdf2
        if self.p["key_file"] and not os.path.isfile(self.p["key_file"]):
            raise Failure("key_file %s does not exist on the host." % self.p["key_file"])
        self.tool = self.p["cryptsetup"] or self.module.get_bin_path("cryptsetup")
        if not self.tool:
            raise Failure("cryptsetup was not found; install it or set cryptsetup.")
        try:
            header = luks2.read_header(device)
        except OSError as e:
            raise Failure("Cannot read %s: %s." % (device, e.strerror or e)) from e
        except luks2.LuksError as e:
            raise Failure(str(e)) from e
        if header is None:
            raise Failure("%s is not a LUKS device (no LUKS header). Nothing was changed."
                          % device)
        result = dict(changed=False, devices={device: describe(header)}, converted={},
                      unreadable={}, not_opened=[])
        if header["version"] == 1:
            result["non_pbkdf2"] = {}
            result["msg"] = "%s is LUKS1: every keyslot is already PBKDF2." % device
            return result
        todo = luks2.non_pbkdf2(header)
        if self.p["key_slot"] is not None:
            slot = str(self.p["key_slot"])
            if slot not in header["keyslots"]:
                raise Failure("%s has no keyslot %s (it has %s)."
                              % (device, slot, ", ".join(header["keyslots"]) or "none"))
            todo = [s for s in todo if s == slot]
        if not todo:
            result["non_pbkdf2"] = {}
            return result
        self.fips = cryptsetup_cli.mode(self.module, self.tool,
                                        scratch_dir=self.module.tmpdir)["fips_mode"]
        result["cryptsetup_fips_mode"] = self.fips
        openable = [s for s in todo if self.opens(s, argon2=True)]
        result["unlocked_outside_fips"] = {device: openable} if self.fips and openable else {}
        result["not_opened"] = [s for s in todo if s not in openable]
        if not openable:
            done = [s for s in header["keyslots"] if s not in todo and self.opens(s)]
            self.proven = done
            if done:
                # A re-run after this key's keyslot was converted: nothing to do for this key.
                result["non_pbkdf2"] = {device: todo}
                result["msg"] = ("The key opens keyslot %s of %s, which already uses PBKDF2; "
                                 "keyslots %s still use argon2 and need their own key."
                                 % (", ".join(done), device, ", ".join(todo)))
                self.module.warn(result["msg"])
                return result
            raise Failure("The key does not open any keyslot of %s (non-PBKDF2: %s). "
                          "Nothing was changed." % (device, ", ".join(todo)),
                          devices=result["devices"])
        result["converted"] = {device: openable}
        result["changed"] = True
        self.proven = openable
        if self.module.check_mode:
            result["non_pbkdf2"] = {device: result["not_opened"]} if result["not_opened"] else {}
            return result
        try:
            digest = luks2.metadata_digest(device)
        except (OSError, luks2.LuksError) as e:
            raise Failure("Cannot read the LUKS2 metadata of %s: %s. Nothing was changed."
                          % (device, e)) from e
        backup = self.backup_header(header)
        result["header_backup"] = backup
        for slot in openable:
            args = ["luksConvertKey", "--key-slot", slot, "--pbkdf", "pbkdf2",
                    "--hash", self.p["pbkdf_hash"]]
            if self.p["pbkdf_iterations"]:
                args += ["--pbkdf-force-iterations", str(self.p["pbkdf_iterations"])]
            elif self.p["iter_time"]:
                args += ["--iter-time", str(self.p["iter_time"])]
            rc, out, err = self.cryptsetup([*args, device], argon2=True)
            # the converted keyslot must open with the host's own configuration (FIPS mode)
            if rc != 0 or not self.opens(slot):
                why = (err or out).strip() or "the converted keyslot does not open"
                restored = self.restore(backup, header)
                if restored is not True and self.unchanged(digest):
                    raise Failure(
                        "Converting keyslot %s of %s failed (%s); restoring the header from %s "
                        "failed as well (%s), but the device's header reads back unchanged, so "
                        "nothing was changed." % (slot, device, why, backup, restored),
                        header_backup=backup)
                if restored is not True:
                    raise Failure(
                        "Converting keyslot %s of %s failed (%s), and restoring the header from "
                        "%s failed too (%s): the device's keyslots may be in an intermediate "
                        "state. Do not reboot; restore it with 'cryptsetup luksHeaderRestore %s "
                        "--header-backup-file %s'." % (slot, device, why, backup, restored,
                                                       device, backup), header_backup=backup)
                raise Failure("Converting keyslot %s of %s failed (%s); the header was restored "
                              "from %s and verified." % (slot, device, why, backup),
                              header_backup=backup)
        after = luks2.read_header(device)
        result["devices"] = {device: describe(after)}
        remaining = luks2.non_pbkdf2(after)
        result["non_pbkdf2"] = {device: remaining} if remaining else {}
        if result["not_opened"]:
            self.module.warn("Keyslots %s of %s still use argon2: they will not open in FIPS "
                             "mode. Convert them with their own key." %
                             (", ".join(result["not_opened"]), device))
        return result

    def backup_header(self, header):
        name = "%s.header" % (header["uuid"] or os.path.basename(self.device))
        path = self.p["header_backup"] or os.path.join(self.p["header_backup_dir"], name)
        if os.path.exists(path):
            path = "%s.%s" % (path, time.strftime("%Y%m%dT%H%M%S"))
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as e:
            raise Failure("Cannot create %s for the header backup: %s. Nothing was changed."
                          % (directory, e.strerror or e)) from e
        # Written under a temporary name and verified before the conversion may depend on it:
        # a full disk must not leave a truncated "backup".
        tmp = "%s.tmp-%d" % (path, os.getpid())
        try:
            rc, out, err = self.cryptsetup(["luksHeaderBackup", self.device,
                                            "--header-backup-file", tmp], key=False)
            if rc != 0:
                raise Failure("luksHeaderBackup of %s to %s failed: %s. Nothing was changed."
                              % (self.device, path, (err or out).strip()))
            os.chmod(tmp, 0o600)
            try:
                copy = luks2.read_header(tmp)
            except (OSError, luks2.LuksError) as e:
                copy = e
            if copy != header:
                raise Failure("The header backup %s of %s does not read back as the device's "
                              "header (%s). Nothing was changed." % (path, self.device, copy))
            os.rename(tmp, path)
            self.changes.keep(path)
        except OSError as e:
            raise Failure("Cannot write the header backup %s: %s. Nothing was changed."
                          % (path, e.strerror or e)) from e
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        return path

    def unchanged(self, digest):
        try:
            return luks2.metadata_digest(self.device) == digest
        except (OSError, luks2.LuksError):
            return False

    def restore(self, backup, header):
        """Put the header back; True when the device reads back as ``header``, else why not."""
        rc, out, err = self.cryptsetup(["luksHeaderRestore", self.device,
                                        "--header-backup-file", backup], key=False)
        if rc != 0:
            return "luksHeaderRestore: %s" % ((err or out).strip() or "exit %d" % rc)
        try:
            after = luks2.read_header(self.device)
        except (OSError, luks2.LuksError) as e:
            return "the restored header cannot be read: %s" % e
        return True if after == header else "the restored header differs from the original"

    def remove_backups(self, result):
        """Delete the device's header backups once a PBKDF2 keyslot is proven to open."""
        try:
            header = luks2.read_header(self.device)
        except (OSError, luks2.LuksError) as e:
            raise Failure("The header of %s cannot be read to prove the key before removing "
                          "its backups: %s. Nothing was removed." % (self.device, e),
                          **_context(result)) from e
        pbkdf2 = [s for s, d in sorted(header["keyslots"].items()) if d.get("kdf") == "pbkdf2"]
        # slots this run converted were proven to open right after their conversion
        proven = self.proven or [s for s in pbkdf2 if self.opens(s)]
        backups = luks2.header_backups_of(header["uuid"], self.p["header_backup_dir"])
        if self.p["header_backup"] and os.path.isfile(self.p["header_backup"]):
            backups = sorted(set(backups) | {self.p["header_backup"]})
        result["header_backups_removed"] = []
        if not backups:
            return
        if not proven:
            self.module.warn("No PBKDF2 keyslot of %s opens with the given key, so its header "
                             "backups (%s) were kept." % (self.device, ", ".join(backups)))
            return
        for path in backups:
            try:
                self.changes.remove(path)
            except (OSError, files.FileError) as e:
                raise Failure("The conversion is done and proven, but the header backup %s "
                              "cannot be removed: %s. Remove it by hand."
                              % (path, getattr(e, "strerror", None) or e),
                              **_context(result)) from e
        result["header_backups_removed"] = backups
        result["changed"] = True

    def run(self):
        if self.p["state"] == "audit":
            return self.audit()
        result = self.convert()
        if self.p["remove_header_backups"]:
            self.remove_backups(result)
        done = self.changes.result()
        result.update(files_changed=done["files_changed"],
                      changed=result["changed"] or done["changed"])
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["audit", "pbkdf2"], default="audit"),
            devices=dict(type="list", elements="path"),
            device=dict(type="path"),
            key_file=dict(type="path", no_log=False),
            passphrase=dict(type="str", no_log=True),
            key_slot=dict(type="int", no_log=False),
            header_backup=dict(type="path"),
            header_backup_dir=dict(type="path", default=luks2.HEADER_BACKUP_DIR),
            remove_header_backups=dict(type="bool", default=False),
            pbkdf_hash=dict(type="str", default="sha256"),
            iter_time=dict(type="int"),
            pbkdf_iterations=dict(type="int"),
            cryptsetup=dict(type="path"),
        ),
        mutually_exclusive=[("key_file", "passphrase"), ("iter_time", "pbkdf_iterations")],
        required_if=[("state", "pbkdf2", ("device",)),
                     ("state", "pbkdf2", ("key_file", "passphrase"), True)],
        supports_check_mode=True,
    )
    changes = ch.Changes(module)
    ch.run(module, changes, LuksPbkdf(module, changes).run)


if __name__ == "__main__":
    main()
