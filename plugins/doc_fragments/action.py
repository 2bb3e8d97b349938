# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The attributes every module of the collection that is run by its action plugin shares
    # (ssh_trust, write_report, raw_copy); a module adds its own details to these.
    DOCUMENTATION = r"""
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
