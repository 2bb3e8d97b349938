# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_cli never lets openssl read the module's inherited stdin.

Without pipelining (Ansible's default) a module runs under `ssh -tt`: its stdin is a pty that
never reaches end of file. AnsibleModule.run_command leaves stdin inherited when `data` is empty,
so `openssl dgst` with empty data waited there forever (fips_facts hung on the rollout
scenario's VM, the one scenario that runs with pipelining off). Here the module runs in a
process whose stdin is a pty, as on such a host."""

import os
import subprocess
import sys

CODE = """
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.flatcar.fips.plugins.module_utils import openssl_cli
with patch_module_args({}):
    module = AnsibleModule(argument_spec={})
works, output = openssl_cli.digest_works(module, openssl_cli.find(module), "/dev/null", "sha256")
print("works=%s" % works)
"""


def test_digest_check_does_not_read_an_inherited_tty():
    master, slave = os.openpty()
    try:
        proc = subprocess.run([sys.executable, "-c", CODE], stdin=slave, capture_output=True,
                              text=True, timeout=60, check=False)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert "works=True" in proc.stdout
