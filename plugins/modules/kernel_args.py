#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kernel_args
short_description: Manage persistent kernel arguments in Flatcar's OEM grub.cfg
version_added: 0.1.0
description:
  - Makes kernel arguments such as C(fips=1) present on, or absent from, the kernel command line
    of a Flatcar Container Linux host, by editing C(linux_append) in the C(grub.cfg) at the root of
    the OEM partition. Flatcar's main GRUB configuration cannot be edited; it sources this file and
    puts C($linux_append) last on the kernel command line.
  - The file is read the way GRUB evaluates it. An OEM line such as
    C(set linux_append="flatcar.autologin") replaces earlier values, and assignments inside
    C(if) blocks apply only conditionally; the module decides from the arguments the kernel will
    really get, not from the text.
  - Compatible with Ignition's first-boot kargs helper (Butane C(kernel_arguments)). When a change
    is needed, every unindented C(set linux_append="...") line is removed and their effective
    arguments are written, with the change, as one line C(set linux_append="$linux_append ...")
    at the end of the file, after every OEM line. Every other line (comments, C(oem_id), consoles,
    C(if) blocks) is kept byte for byte; indented or conditional C(linux_append) assignments are
    edited in place only to remove arguments.
  - Creates the file when it does not exist (bare-metal and generic images ship none). Never
    creates C(/boot/flatcar/first_boot), which would re-run Ignition.
  - Refuses, writing nothing, when the file holds C(linux_append) assignments whose effect cannot
    be known or preserved (another variable in the value, quoted arguments, C(unset), a replacing
    assignment inside a block, an override that consolidation would undo); the error names the
    line and says what to change.
  - Refuses a C(grub.cfg) that is not a regular file (a FIFO, a device, a directory, a dangling
    symlink or a symlink loop) with its path; bytes that are not UTF-8 are kept byte for byte
    and shown escaped (C(\xe9)) in the result.
  - The change takes effect at the next boot. RV(reboot_required) compares the configured
    arguments with C(/proc/cmdline) for the arguments this task manages.
author: flatcar.fips contributors (!UNKNOWN)
notes:
  - Flatcar stable releases before 3975.2.0 ignore the OEM C(grub.cfg) when UEFI Secure Boot is
    enabled, so arguments written here do not reach the kernel there. Check RV(reboot_required)
    and C(/proc/cmdline) after the reboot, or use M(flatcar.fips.fips_facts).
  - When C(grub-script-check) is installed, every candidate file is checked with it before it
    replaces the live file.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - flatcar.fips.attributes
  - ansible.builtin.backup
options:
  present:
    description:
      - Arguments that must always be on the kernel command line, for example C(fips=1).
      - An argument C(key=value) replaces any other value of C(key) (the kernel honours the last
        one, so a leftover C(fips=0) would only confuse). To keep several values of one key, such
        as two C(console=) arguments, list each of them.
      - Arguments must not contain whitespace, quotes, C($), backslashes, C(;) or control
        characters.
    type: list
    elements: str
    default: []
  absent:
    description:
      - Arguments that must not be on the kernel command line.
      - A bare key such as C(fips) removes C(fips) and C(fips=) with any value; C(fips=0) removes
        only that exact argument.
      - Removed from every C(linux_append) assignment in the file, conditional ones included.
    type: list
    elements: str
    default: []
  path:
    description:
      - The OEM C(grub.cfg) to manage.
      - Defaults to C(/oem/grub.cfg) when C(/oem) exists (Flatcar 3760.2.0 and later, where
        C(/usr/share/oem) is a symlink to it), otherwise C(/usr/share/oem/grub.cfg).
      - A symlink is followed; the file it points to is replaced.
    type: path
  proc_cmdline:
    description:
      - Where to read the running kernel's command line from. Only tests need to change this.
    type: path
    default: /proc/cmdline
seealso:
  - name: Flatcar documentation on kernel command line arguments
    description: How the OEM grub.cfg and Butane kernel_arguments set persistent kernel arguments.
    link: https://www.flatcar.org/docs/latest/setup/customization/other-settings/
"""

EXAMPLES = r"""
- name: Boot Flatcar in FIPS mode from the next reboot on
  flatcar.fips.kernel_args:
    present:
      - fips=1
  register: kargs

- name: Reboot when the new argument is not yet on the running kernel
  ansible.builtin.reboot:
  when: kargs.reboot_required

- name: Leave FIPS mode (removes fips=1, fips=0 and a bare fips alike)
  flatcar.fips.kernel_args:
    absent:
      - fips

- name: Several consoles are kept when all of them are listed
  flatcar.fips.kernel_args:
    present:
      - console=tty0
      - console=ttyS0,115200n8
    backup: true

- name: Only report the configured and running kernel arguments
  flatcar.fips.kernel_args:
  register: kargs_report
"""

RETURN = r"""
path:
  description: The file that was examined (symlinks resolved).
  returned: always
  type: str
  sample: /oem/grub.cfg
created:
  description: Whether the file did not exist and was (or, in check mode, would be) created.
  returned: always
  type: bool
  sample: false
args_configured:
  description:
    - The arguments the file always adds to the kernel command line, after the change, as GRUB
      evaluates it.
  returned: always
  type: list
  elements: str
  sample: [flatcar.autologin, fips=1]
args_conditional:
  description: Arguments the file adds only when a condition in it holds (inside C(if) blocks).
  returned: always
  type: list
  elements: str
  sample: []
args_running:
  description: The running kernel's command line, split into arguments; C(null) when unreadable.
  returned: always
  type: list
  elements: str
  sample: [BOOT_IMAGE=/flatcar/vmlinuz-a, root=LABEL=ROOT, flatcar.autologin]
args_added:
  description: Arguments the change adds to the file.
  returned: always
  type: list
  elements: str
  sample: [fips=1]
args_removed:
  description: Arguments the change removes from the file.
  returned: always
  type: list
  elements: str
  sample: []
reboot_required:
  description:
    - Whether a managed argument is configured differently from the running kernel's command
      line, so that only a reboot makes the configuration effective. C(null) when the running
      command line cannot be read.
  returned: always
  type: bool
  sample: true
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true) and the file existed
  type: str
  sample: /oem/grub.cfg.12345.2026-11-30@02:14:17~
rolled_back:
  description: On a failure after the first write, the files put back as they were.
  returned: failed after a write
  type: list
  elements: str
validated_with:
  description:
    - Checks the candidate file passed before it replaced the live file. Only what ran is
      listed; in check mode that is V(parser) (C(grub-script-check) checks the file about to be
      installed).
  returned: changed
  type: list
  elements: str
  sample: [parser, grub-script-check]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import kernel_writer


def main():
    module = AnsibleModule(argument_spec=kernel_writer.argument_spec(), supports_check_mode=True)
    changes = ch.Changes(module)
    ch.run(module, changes, lambda: kernel_writer.KernelArgs(module, changes).run())


if __name__ == "__main__":
    main()
