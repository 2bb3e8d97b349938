# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: raw_copy
short_description: Copy a controller file to a host that has no Python
version_added: 0.1.0
description:
  - "An action plugin that needs nothing on the host but the connection and a POSIX shell with
    C(sha256sum): the file is uploaded with the connection plugin's own file transfer as the
    connection user, checked against its SHA-256, copied next to O(dest) under a temporary name
    (with C(become) when the task has it), checked again and renamed over O(dest). A half-copied
    file never has the final name."
  - Idempotent by content (the SHA-256 of O(dest)). The C(flatcar.fips.python_bootstrap) role
    uses it to bring a Python system extension image or tarball to a Flatcar host before any
    module can run.
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment: [ansible.builtin.action_common_attributes,
  ansible.builtin.action_common_attributes.flow, flatcar.fips.attributes.action]
attributes:
  check_mode:
    details: Compares the SHA-256 of O(dest) and transfers nothing.
  diff_mode:
    support: none
options:
  src:
    description: The file on the controller.
    type: path
    required: true
  dest:
    description: The absolute path on the host.
    type: str
    required: true
  sha256:
    description: The SHA-256 O(src) must have; the task fails before any transfer when it differs.
    type: str
  mode:
    description: The octal mode of O(dest).
    type: str
    default: "0644"
"""

EXAMPLES = r"""
- name: Bring a Python system extension to a host without Python
  flatcar.fips.raw_copy:
    src: files/python-3.11.raw
    dest: /opt/extensions/python/python-3.11.raw
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  become: true
"""

RETURN = r"""
dest:
  description: The path on the host.
  returned: always
  type: str
sha256:
  description: The SHA-256 of the file.
  returned: always
  type: str
size:
  description: Its size in bytes.
  returned: always
  type: int
"""
