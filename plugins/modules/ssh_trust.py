# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ssh_trust
short_description: Will the controller still verify a host, and still log in, once its sshd is FIPS?
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin), with the host's ssh connection settings as
    Ansible's C(ssh) connection plugin uses them (C(ssh_args), C(host_key_checking), port,
    user, private key file, C(ansible_ssh_common_args), C(ansible_ssh_extra_args)). It never
    connects to the host and never scans it; what it knows of the host comes from
    M(flatcar.fips.fips_facts), read over the already authenticated connection.
  - B(Host keys.) Asks OpenSSH itself (C(ssh -G)) which known-hosts files it consults, under
    which name (C([host]:port), C(HostKeyAlias)) and with which C(StrictHostKeyChecking) and
    C(HostKeyAlgorithms), and C(ssh-keygen -F) which lines match (hashed names and patterns
    included). V(pass) when one of those keys is a key sshd still offers in FIPS mode
    (O(host_keys) that are FIPS-usable, and O(generated_host_public_key)); V(fail) when none is
    (the next connection would end in "Host key verification failed"; with
    C(StrictHostKeyChecking=no) only when Ansible logs in with a password, which OpenSSH then
    disables); V(unknown) when the host is trusted through a C(@cert-authority) line or no line
    matches at all while checking is on.
  - With O(learn=true), adds the FIPS-usable host keys the host offers to O(known_hosts_file)
    (hashed when C(HashKnownHosts) is on or the file already hashes this host), only when the
    controller already trusts the host through a known-hosts line; with O(remove_stale=true),
    removes this host's lines in that file whose key sshd no longer offers, only when a key it
    does offer stays known, and never a line that also names other hosts. The file is updated
    atomically under a lock, so forks updating it for different hosts take turns.
  - B(Client keys.) Which keys C(ssh) would offer (its identity files, their C(.pub) or
    C(ssh-keygen -y) when there is none, and the keys in C(ssh-agent)), and whether one is
    FIPS-usable and in the user's authorized keys as O(user_access) reports them
    (M(flatcar.fips.fips_facts) C(sshd.users)). V(unknown) when that cannot be proven (a key
    with a passphrase and no C(.pub), an C(AuthorizedKeysCommand), certificates).
  - The P(flatcar.fips.fips_mode#role) role runs it in its preflight and refuses on V(fail), and on
    V(unknown) unless told otherwise.
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment: [ansible.builtin.action_common_attributes,
  ansible.builtin.action_common_attributes.flow, flatcar.fips.attributes.action]
attributes:
  check_mode:
    details: Says what it would add to and remove from the known-hosts file, writes nothing.
  diff_mode:
    support: full
    details: The known-hosts file before and after.
  action:
    details: Runs entirely on the controller.
options:
  host_keys:
    description: The host keys sshd will use, as M(flatcar.fips.fips_facts) reports them in
      C(sshd.host_keys) (C(public_key) and C(fips_usable) are read).
    type: list
    elements: dict
    required: true
  generated_host_public_key:
    description: A host key generated during the change (M(flatcar.fips.sshd_crypto)'s
      C(generated_host_public_key)); it counts as offered, and is learned with O(learn=true).
    type: str
  will_generate_host_key:
    description: A host key will be generated (the preflight of a run that generates one); with
      O(learn=true) the host key check then passes, since the new key will be learned.
    type: bool
    default: false
  user_access:
    description: The connecting user's entry of M(flatcar.fips.fips_facts) C(sshd.users), to
      match the client's keys against the authorized ones by fingerprint.
    type: dict
  learn:
    description: Add the host's FIPS-usable host keys to O(known_hosts_file).
    type: bool
    default: false
  remove_stale:
    description: Remove this host's lines in O(known_hosts_file) whose key sshd no longer offers.
    type: bool
    default: false
  known_hosts_file:
    description: The known-hosts file to update; by default the first C(UserKnownHostsFile)
      OpenSSH uses for this host.
    type: path
notes:
  - Only the C(ssh) connection plugin is examined; with C(paramiko_ssh) or others both results
    are V(unknown), with a local connection both are V(pass).
seealso:
  - module: flatcar.fips.fips_facts
  - module: flatcar.fips.sshd_crypto
  - name: The role's known-hosts options
    description: fips_mode_known_hosts, fips_mode_known_hosts_file and
      fips_mode_known_hosts_remove_stale
    link: https://github.com/flatcar/flatcar-fips/blob/main/roles/fips_mode/README.md
"""

EXAMPLES = r"""
- name: Read the host keys over the authenticated connection
  flatcar.fips.fips_facts:
    gather: [sshd]
    ssh_users: [core]

- name: Would the controller still verify the host?
  flatcar.fips.ssh_trust:
    host_keys: "{{ ansible_facts.flatcar_fips.sshd.host_keys }}"
    user_access: "{{ ansible_facts.flatcar_fips.sshd.users.core }}"
  register: trust

- name: Learn the FIPS host keys before switching (the controller's known_hosts)
  flatcar.fips.ssh_trust:
    host_keys: "{{ ansible_facts.flatcar_fips.sshd.host_keys }}"
    learn: true
  when: trust.host_key.status == 'fail'
"""

RETURN = r"""
host_key:
  description: >-
    C(status) (V(pass), V(fail), V(unknown)) and C(reason); C(status_before) (before learning);
    C(name) looked up; C(strict_host_key_checking); C(known_hosts_files) consulted and
    C(known_hosts_file) updated; C(known) (matching lines with C(file), C(line), C(type),
    C(fingerprint), C(marker)); C(remaining) (known keys sshd still offers); C(offered_after);
    C(learned) and C(removed).
  returned: always
  type: dict
  sample:
    status: fail
    reason: >-
      the controller knows 192.0.2.10 only by ssh-ed25519 key(s) (/home/me/.ssh/known_hosts),
      and in FIPS mode sshd offers ecdsa-sha2-nistp256: the next connection fails host key
      verification (StrictHostKeyChecking=ask)
client_key:
  description: C(status) and C(reason), and C(candidates) (the keys the client would offer, with
    C(source), C(type), C(bits), C(fips_usable), C(fingerprint), C(authorized)).
  returned: always
  type: dict
"""
