# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: ssh_key_info
short_description: Type, size and FIPS usability of an SSH public key
version_added: 0.1.0
description:
  - Reads an SSH public key (a C(.pub) file's text or an C(authorized_keys) line) and says whether
    sshd in FIPS mode accepts it (ECDSA, or RSA of 2048 bits or more; not C(ssh-ed25519) or
    security-key types).
  - The same rules as M(flatcar.fips.sshd_crypto) and M(flatcar.fips.fips_facts) apply (one
    allow-list in the collection). The P(flatcar.fips.fips_mode#role) role uses it to refuse to lock
    out the key Ansible connects with.
author: flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description: The public key text.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Is the key Ansible connects with usable under FIPS?
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ecdsa.pub') | flatcar.fips.ssh_key_info }}"
"""

RETURN = r"""
_value:
  description: C(type) and C(bits) (C(null) when the text holds no key) and C(fips_usable).
  type: dict
  sample: {"type": "ssh-ed25519", "bits": 256, "fips_usable": false}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, ssh_keys


def ssh_key_info(text):
    if not isinstance(text, str):
        raise AnsibleFilterError("ssh_key_info: expects the public key text, got %r" % (text,))
    info = ssh_keys.key_info(text)
    key_type, bits = info if info else (None, None)
    return dict(type=key_type, bits=bits,
                fips_usable=bool(info) and algorithms.key_is_fips_usable(key_type, bits))


class FilterModule:
    def filters(self):
        return {"ssh_key_info": ssh_key_info}
