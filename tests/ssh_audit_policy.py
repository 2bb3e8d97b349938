#!/usr/bin/env python
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ssh-audit policy built from the collection's own allow-lists (fips.md section 5): every
algorithm the server offers must be in these lists. Used by the integration tests and, from the
controller, by the testbed's verify playbook.

    python3 tests/ssh_audit_policy.py OUT_FILE
"""

import sys

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms


def policy_text():
    def join(values):
        return ", ".join(values)
    return "\n".join([
        'name = "flatcar.fips FIPS allow-list"',
        "version = 1",
        "allow_algorithm_subset_and_reordering = true",
        "allow_hostkey_subset_and_reordering = true",
        "allow_larger_keys = true",
        "host keys = %s" % join(algorithms.SIGNATURES),
        "key exchanges = %s" % join([*algorithms.KEX, "kex-strict-s-v00@openssh.com",
                                     "ext-info-s"]),
        "ciphers = %s" % join(algorithms.CIPHERS),
        "macs = %s" % join(algorithms.MACS),
    ]) + "\n"


def write(path):
    with open(path, "w") as f:
        f.write(policy_text())
    return path


if __name__ == "__main__":
    write(sys.argv[1])
