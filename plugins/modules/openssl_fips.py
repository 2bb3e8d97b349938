#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: openssl_fips
short_description: Activate (or deactivate) the OpenSSL 3 FIPS provider on Flatcar
version_added: 0.1.0
description:
  - Configures OpenSSL 3 on a Flatcar Container Linux host to load only the FIPS provider (plus the
    base provider for encoders and decoders), with C(default_properties = fips=yes) so that
    programs and cryptsetup 2.6 or newer run in FIPS mode.
  - Edits C(openssl.cnf) in place and keeps everything it does not own (other sections, comments).
    When C(openssl.cnf) is a symlink into read-only C(/usr) (Flatcar LTS and older stables), the
    symlink is replaced by a regular file; it is never written through.
  - Keeps a C(fipsmodule.cnf) that verifies against C(fips.so) (Flatcar ships one, generated at
    image build, that follows OS updates); such a file is never rewritten. Generates it with
    C(openssl fipsinstall) only when it is missing, or when the file this module generated earlier
    no longer verifies (the OS update replaced C(fips.so)).
  - Refuses, changing nothing, when a C(fipsmodule.cnf) it did not generate no longer verifies,
    because C(fips.so) was modified or the host has not rebooted into an updated C(/usr). See
    O(regenerate_fipsmodule).
  - B(Validates before installing.) The candidate configuration is loaded by the real C(openssl)
    through C(OPENSSL_CONF); the fips provider must be listed with C(status) V(active), no
    provider other than fips and base may be active (an C(.include) elsewhere could re-activate
    C(default)), C(sha256) must work and C(md5) must be refused, or nothing is written and
    OpenSSL's own error is returned. Files it includes must be regular files (OpenSSL would
    block on a FIFO).
  - All or nothing. When any write of the task fails (the C(/etc/system-fips) marker or the
    update guard in a read-only directory, a full disk), every file already written is put back
    as it was, newest first, and the failure lists them in RV(rolled_back). The
    C(openssl.cnf.pre-fips) copy is written atomically and read back; a copy that cannot be
    restored (empty, unparsable, already a FIPS configuration) is never restored.
  - Survives OS updates. Where this module had to generate C(fipsmodule.cnf), the file is pinned in
    C(/etc) and would stop matching a C(fips.so) shipped by a later update; the module then
    installs a boot-time oneshot unit that re-verifies and regenerates it before sshd and other
    OpenSSL users start (O(update_guard)).
  - With O(state=disabled), restores the C(openssl.cnf) saved when FIPS mode was first enabled
    (byte for byte, a symlink as a symlink), else the distribution default; removes the files this
    module created; leaves a shipped C(fipsmodule.cnf) alone.
  - Every new OpenSSL process reads the configuration at once (sshd is socket-activated on
    Flatcar). Make sure sshd offers only FIPS-approved algorithms first
    (M(flatcar.fips.sshd_crypto)); a client that negotiates chacha20-poly1305 against sshd with
    the FIPS provider active is disconnected.
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - flatcar.fips.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode runs the same validation against temporary copies outside the target
        directories and writes nothing on the host.
options:
  state:
    description:
      - V(enabled) configures and validates FIPS mode; V(disabled) restores the previous
        configuration.
    type: str
    choices: [enabled, disabled]
    default: enabled
  openssl_cnf:
    description: The OpenSSL configuration file (C(OPENSSLDIR)/openssl.cnf).
    type: path
    default: /etc/ssl/openssl.cnf
  fipsmodule_cnf:
    description:
      - The FIPS module configuration, included from O(openssl_cnf).
    type: path
    default: /etc/ssl/fipsmodule.cnf
  module:
    description:
      - The FIPS provider, C(fips.so).
      - Defaults to C(fips.so) in the directory OpenSSL loads providers from (C(openssl version -m),
        or C(OPENSSL_MODULES) when set); on Flatcar C(/usr/lib64/ossl-modules/fips.so).
      - OpenSSL loads the provider from that directory; a C(fips.so) elsewhere fails validation.
    type: path
  openssl:
    description: The C(openssl) program to validate with. Defaults to the one on C(PATH).
    type: path
  default_properties_fips:
    description:
      - Add C(alg_section) with C(default_properties = fips=yes). cryptsetup 2.6 and newer runs in
        FIPS mode (PBKDF2 only) only with it, and it keeps non-FIPS algorithms from being fetched
        even if another provider is loaded.
      - V(false) removes C(fips=yes) from C(default_properties) again.
    type: bool
    default: true
  system_fips_marker:
    description:
      - Manage O(system_fips_path) (an empty file that older tools, cryptsetup before 2.6 among
        them, read as "this system is in FIPS mode"). Created with V(enabled), removed with
        V(disabled).
    type: bool
    default: true
  system_fips_path:
    description: Where the marker lives.
    type: path
    default: /etc/system-fips
  regenerate_fipsmodule:
    description:
      - Also regenerate a C(fipsmodule.cnf) that this module did not generate (the one Flatcar
        ships) when it no longer verifies against O(module). This accepts the current C(fips.so) as
        genuine; the file is then pinned in C(/etc) and kept in step by the O(update_guard) unit.
      - Leave V(false) unless you know why the shipped file stopped verifying.
    type: bool
    default: false
  update_guard:
    description:
      - When this module generated O(fipsmodule_cnf), install a boot-time oneshot unit (and its
        script) that re-verifies the file against O(module) and regenerates it when an OS update
        replaced C(fips.so), ordered before C(sysinit.target) and so before sshd.
      - With a shipped O(fipsmodule_cnf) (Flatcar stable) no guard is installed, but one already
        there (a node provisioned with the config of P(flatcar.fips.ignition_config#filter),
        which carries it whether or not the release ships the file) is kept and kept current;
        it leaves a file that verifies alone.
      - Removed with V(disabled), or with O(update_guard=false).
    type: bool
    default: true
  update_guard_accept_unverified:
    description:
      - Let the update guard regenerate O(fipsmodule_cnf) at boot even when O(module) is not on a
        dm-verity verified file system. On Flatcar C(/usr) is, and a new C(fips.so) can only come
        with a signed update; elsewhere, regenerating would accept a C(fips.so) that may have
        been tampered with, so by default the guard refuses, logs why to the journal and leaves
        the provider failing its integrity check (which is what FIPS mode demands).
    type: bool
    default: false
  update_guard_status_file:
    description: Where the update guard records its last verdict (read by
      M(flatcar.fips.fips_facts)); on a tmpfs, so it describes the current boot.
    type: path
    default: /run/flatcar-fips/fipsmodule-refresh.status
  update_guard_script:
    description: Where the update guard script is installed.
    type: path
    default: /etc/flatcar-fips/fipsmodule-refresh
  systemd_dir:
    description: Where the update guard unit is installed and enabled (C(sysinit.target.wants)).
    type: path
    default: /etc/systemd/system
  distribution_openssl_cnf:
    description:
      - With V(disabled), when no configuration was saved at enable time, the first of these
        files that exists is restored (Flatcar keeps the default C(/etc) under
        C(/usr/share/flatcar/etc); LTS releases linked C(/etc/ssl/openssl.cnf) to
        C(/usr/share/ssl/openssl.cnf)).
    type: list
    elements: path
    default: [/usr/share/flatcar/etc/ssl/openssl.cnf, /usr/share/ssl/openssl.cnf]
  backup:
    description:
      - Create a backup file including the timestamp information so you can get the original file
        back if you somehow clobbered it incorrectly. Applies to O(openssl_cnf) and
        O(fipsmodule_cnf).
      - Independent of the copy of the original O(openssl_cnf) that V(enabled) always keeps at
        C(<openssl_cnf>.pre-fips) for V(disabled).
    type: bool
    default: false
notes:
  - Only C(fips) and C(base) stay in the providers section; other entries (C(default), C(legacy))
    are removed from it. Their own sections are left in the file.
  - The FIPS provider of OpenSSL 3.0 does not detect a modified C(fips.so) at load time when the
    configuration was regenerated for it; that is why a shipped C(fipsmodule.cnf) that stops
    verifying is reported, not silently regenerated.
seealso:
  - module: flatcar.fips.kernel_args
  - name: OpenSSL fips_module(7)
    description: How the FIPS provider is installed and configured.
    link: https://docs.openssl.org/3.0/man7/fips_module/
"""

EXAMPLES = r"""
- name: Put OpenSSL into FIPS mode
  flatcar.fips.openssl_fips:
  register: openssl

- name: Show what happened to each file
  ansible.builtin.debug:
    var: openssl.actions

- name: Leave FIPS mode again (restores the saved openssl.cnf)
  flatcar.fips.openssl_fips:
    state: disabled

- name: Enable without the fips=yes default property (cryptsetup stays out of FIPS mode)
  flatcar.fips.openssl_fips:
    default_properties_fips: false
    backup: true
"""

RETURN = r"""
actions:
  description: What happened (or, in check mode, would happen) to each managed item.
  returned: always
  type: dict
  contains:
    openssl_cnf:
      description: >-
        V(unchanged), V(updated), V(replaced_symlink) (a symlink replaced by a regular file),
        V(created), V(restored) (from the copy saved at enable time),
        V(restored_distribution_default).
      type: str
    fipsmodule_cnf:
      description: >-
        V(kept) (verifies; not touched), V(generated) (was missing), V(regenerated) (no longer
        verified), V(removed) (generated by this module; V(disabled)), V(absent).
      type: str
    system_fips:
      description: V(present), V(created), V(removed), V(absent), V(unmanaged).
      type: str
    update_guard:
      description: V(installed), V(present), V(removed), V(absent), V(disabled).
      type: str
  sample:
    openssl_cnf: updated
    fipsmodule_cnf: kept
    system_fips: created
    update_guard: absent
module_storage:
  description: Whether O(module) is on a dm-verity verified file system (C(status) V(pass),
    V(fail) or V(unknown), C(device), C(reason)), the condition under which the update guard
    regenerates O(fipsmodule_cnf) at boot without O(update_guard_accept_unverified).
  returned: when the update guard is installed or kept
  type: dict
  sample:
    status: pass
    device: /dev/mapper/usr
    reason: /usr/lib64/ossl-modules/fips.so is on /dev/mapper/usr, verified by dm-verity
openssl_cnf_changes:
  description: The settings changed in O(openssl_cnf).
  returned: always
  type: list
  elements: str
  sample: ["[openssl_init] providers = provider_sect", ".include /etc/ssl/fipsmodule.cnf"]
files_changed:
  description: Files written or removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/ssl/openssl.cnf, /etc/system-fips]
fipsmodule_verified:
  description: Whether O(fipsmodule_cnf), as it is (or would be) after the task, verifies against
    O(module) (C(openssl fipsinstall -verify)). C(null) with V(disabled).
  returned: always
  type: bool
fipsmodule_generated:
  description: Whether O(fipsmodule_cnf) was (or would be) generated by this task.
  returned: always
  type: bool
provider_active:
  description:
    - Whether, under the configuration in place after the task, C(openssl list -providers) shows
      the fips provider with C(status) V(active). In check mode, under the candidate configuration.
  returned: always
  type: bool
md5_refused:
  description: Whether C(openssl dgst -md5) fails under that configuration, as it must in FIPS mode.
  returned: always
  type: bool
openssl_version:
  description: The version of the C(openssl) program.
  returned: always
  type: str
  sample: 3.5.4
fips_provider_version:
  description: The version of the loaded FIPS provider, C(null) when it is not active.
  returned: always
  type: str
  sample: 3.0.22
module:
  description: The C(fips.so) used.
  returned: always
  type: str
  sample: /usr/lib64/ossl-modules/fips.so
rolled_back:
  description: On a failure after the first write, the files put back as they were.
  returned: failed after a write
  type: list
  elements: str
backup_files:
  description: Backup files created with O(backup=true), by the file they back up.
  returned: when O(backup=true) and a file was replaced
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import openssl_writer


def main():
    module = AnsibleModule(argument_spec=openssl_writer.argument_spec(), supports_check_mode=True)
    runner = openssl_writer.OpenSSLFips(module)
    ch.run(module, runner.changes, runner.run, lambda: dict(actions=runner.actions))


if __name__ == "__main__":
    main()
