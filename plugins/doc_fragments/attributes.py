# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # flatcar.fips.attributes: what every writer module does with the files it changes
    # (plugins/module_utils/changes.py), and the attributes that follow from it.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - "All or nothing: the module holds a host-wide lock (C(/run/flatcar-fips.lock); shared in
    check mode) so that no other flatcar.fips task changes the host meanwhile. Every file is
    written to a temporary file in the target's own directory, checked there with the real
    tool where there is one, and moved into place atomically. When a later step of the same
    task fails, every file the task already changed is put back exactly as it was, in reverse
    order (RV(rolled_back) lists them) and the failure says so. In check mode no target file
    is written (candidates are validated as scratch copies in Ansible's temporary directory)."
  - Bytes that are not UTF-8 are kept in the files byte for byte and escaped in the results.
"""

    # flatcar.fips.attributes.action: the attributes every module run by its action plugin
    # shares (ssh_trust, write_report, raw_copy).
    ACTION = r"""
options: {}
attributes:
  check_mode:
    support: full
  platform:
    platforms: posix
  action:
    support: full
  bypass_host_loop:
    support: none
  async:
    support: none
"""
