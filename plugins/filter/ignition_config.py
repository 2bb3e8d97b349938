# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: ignition_config
short_description: Render the FIPS end state of the fips_mode role as an Ignition or Butane config
version_added: 0.1.0
description:
  - Nodes provisioned once by Ignition are born in the FIPS state that the role
    P(flatcar.fips.fips_mode#role) gives running hosts, from the same variables (C(fips_mode_*)).
  - "The config carries: kernel arguments (C(fips=1) should exist, C(fips=0) should not: Flatcar's
    Ignition writes them to the OEM C(grub.cfg) and reboots once at first boot);
    C(/etc/system-fips); C(/etc/ssl/openssl.cnf), the release's stock file made into the FIPS
    configuration by the code M(flatcar.fips.openssl_fips) uses (fips and base providers,
    C(default_properties = fips=yes), C(.include /etc/ssl/fipsmodule.cnf)); the sshd drop-in
    C(/etc/ssh/sshd_config.d/05-fips.conf) with the allow-lists of M(flatcar.fips.sshd_crypto);
    and the update guard (C(/etc/flatcar-fips/fipsmodule-refresh) and
    C(flatcar-fips-fipsmodule.service), enabled), which runs at every boot before sshd: it
    creates C(fipsmodule.cnf) when the release ships none, leaves a shipped one that verifies
    alone, and regenerates a stale one after an OS update replaced C(fips.so), only when
    C(fips.so) is on dm-verity verified storage (Flatcar's C(/usr))."
  - "Unlike the guide's own Butane config, nothing here is skipped when the release already ships
    C(fipsmodule.cnf) (current stable does), and sshd never offers chacha20 at first boot."
  - "Spec 3.3.0 by default (what Butane's C(flatcar) 1.0.0 variant emits and what the Ignition in
    Debian's C(ignition) package accepts), 3.4.0 on request. Every file is written with
    C(overwrite: true)."
  - "The result composes with the user's config: merge it into theirs here (O(base)), or write it
    to a file and reference it from theirs with C(ignition.config.merge) (in Butane:
    C(ignition: {config: {merge: [{local: fips.ign}]}}) and C(butane --files-dir DIR))."
  - Runs on the controller.
author: flatcar.fips contributors (!UNKNOWN)
options:
  _input:
    description:
      - The fips_mode role's variables, as a dict (C({}) for the role's defaults).
      - "These shape the config: C(fips_mode_state) (only V(enabled)), C(fips_mode_sshd_policy),
        C(fips_mode_sshd_allow_hmac_sha1), C(fips_mode_openssl_update_guard),
        C(fips_mode_update_guard_accept_unverified_usr)."
      - "The role's other variables (reboots, known hosts, LUKS keys, reports) are about a run
        against a live host: accepted and ignored. Any other key is an error naming it."
    type: dict
    required: true
  spec:
    description: The Ignition spec version.
    type: str
    choices: ['3.3.0', '3.4.0']
    default: '3.3.0'
  output:
    description:
      - V(config) returns an Ignition config (a dict; C(to_json) it into a C(.ign) file).
      - V(butane) returns a Butane config as YAML text (variant C(flatcar), 1.0.0 for spec 3.3.0,
        1.1.0 for 3.4.0), the files' contents inline as literal blocks, modes in octal; write it
        into a C(.bu) file as it is.
    type: str
    choices: [config, butane]
    default: config
  release:
    description:
      - Whose stock C(openssl.cnf) the FIPS configuration is made from. V(stable) is OpenSSL
        3.5.7's stock file, which Flatcar stable 4593.2.x (OpenSSL 3.5.x) installs as
        C(/etc/ssl/openssl.cnf). For another release pass its file in O(openssl_cnf_stock).
    type: str
    default: stable
  openssl_cnf_stock:
    description: The stock C(openssl.cnf) text of the target release, instead of O(release)'s.
    type: str
  base:
    description:
      - The user's own Ignition config (a dict, same spec); the FIPS config is merged into it
        (kernel arguments joined, files and units added). A file or unit both configs write is
        an error naming it.
    type: dict
notes:
  - "What the node does with it is proven by real Ignition in the tests: every config passes
    C(ignition-validate) and the JSON schema of its spec."
seealso:
  - name: Flatcar provisioning with Butane
    description: Butane configs and how Flatcar applies them at first boot.
    link: https://www.flatcar.org/docs/latest/provisioning/config-transpiler/
"""

EXAMPLES = r"""
- name: The FIPS config for new nodes, from the same variables as the role
  ansible.builtin.copy:
    dest: files/fips.ign
    content: >-
      {{ {'fips_mode_sshd_allow_hmac_sha1': false} | flatcar.fips.ignition_config | to_json }}
    mode: "0644"

- name: Merged into our own config
  ansible.builtin.copy:
    dest: files/node.ign
    content: >-
      {{ {} | flatcar.fips.ignition_config(base=node_base) | to_json }}
    mode: "0644"
  vars:
    node_base: "{{ lookup('ansible.builtin.file', 'node-base.ign') | from_json }}"

- name: As Butane, for a Butane source tree
  ansible.builtin.copy:
    dest: butane/fips.bu
    content: "{{ {} | flatcar.fips.ignition_config(output='butane') }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: An Ignition config (a dict), or with O(output=butane) a Butane config (YAML text).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.plugin_utils import ignition


def ignition_config(variables, spec=ignition.DEFAULT_SPEC, output="config", release="stable",
                    openssl_cnf_stock=None, base=None):
    try:
        return ignition.render(variables, spec=spec, output=output, release=release,
                               openssl_cnf_stock=openssl_cnf_stock, base=base)
    except ignition.IgnitionError as e:
        raise AnsibleFilterError("ignition_config: %s" % e) from e


class FilterModule:
    def filters(self):
        return {"ignition_config": ignition_config}
