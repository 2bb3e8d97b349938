#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sshd_crypto
short_description: Let sshd offer only FIPS-approved algorithms, without locking anyone out
version_added: 0.1.0
description:
  - Makes the B(effective) sshd configuration of a Flatcar Container Linux host offer only
    FIPS-approved ciphers, MACs, key exchanges and host key, user key and CA signature algorithms
    (the intersection of the RHEL FIPS policy and the DISA STIG), limited to what the local
    OpenSSH supports (C(ssh -Q)).
  - Decides from what sshd itself reports (C(sshd -T), also with C(-C) connection specifications
    so that C(Match) blocks count), not from what it wrote.
  - Writes a drop-in (default C(/etc/ssh/sshd_config.d/05-fips.conf)) that sorts before Flatcar's
    C(50-flatcar-sshd.conf); sshd keeps the first value it reads, so the drop-in wins over
    Flatcar's C(+ssh-rsa) and the LTS lists with chacha20, umac and curve25519.
  - Fixes the main C(sshd_config) only when the drop-in would not win, while keeping every other
    line. When a keyword is set in the main file before its C(Include), when the C(Include) is
    missing, or when C(sshd_config) is a symlink into read-only C(/usr) (legacy installs), it
    writes a regular file whose first directive is C(Include) of the drop-in. Values of
    C(PubkeyAcceptedAlgorithms), C(HostbasedAcceptedAlgorithms) and C(CASignatureAlgorithms) inside
    C(Match) blocks are rewritten to approved ones, in whichever file they are. The original of
    every file it changes is kept as C(<file>.pre-fips) for O(state=absent).
  - Every candidate configuration is validated with C(sshd -t) before it lands, then the files
    written are confirmed with C(sshd -T); if the effective lists are not exactly approved,
    nothing is written (or what was written is rolled back). Both checks evaluate the global
    values, every O(connection_specs) entry and every C(Match) block that sets an algorithm
    keyword (that block switched on alone, whatever its criteria, users, groups or addresses).
    When no file sshd reads has a C(Match) line, every connection spec gets the global values
    (C(sshd -T -C) prints what C(sshd -T) prints), so the specs are not asked about one by one.
  - All or nothing. When any write of the task fails (the main file after the drop-in, a
    C(.pre-fips) copy, a read-only or full C(/etc/ssh)), every file already written, and a host
    key it generated, is put back as it was, and the failure lists them in RV(rolled_back).
    Only regular files are read; a FIFO or a device where an included file belongs is refused
    with its path, never waited on.
  - Lockout guards. Fails (unless O(force=true)) when no FIPS-usable host key exists (only
    ed25519); O(generate_host_keys=true) creates an ECDSA P-256 host key instead. Reports users
    whose C(authorized_keys) hold no FIPS-usable key (they would be locked out).
  - Never writes C(GSSAPIKeyExchange) or C(GSSAPIKexAlgorithms) (patches of some distributions
    only; upstream sshd refuses them). Writes C(RequiredRSASize) only where sshd knows it
    (OpenSSH 9.1 and later).
  - On Flatcar sshd is socket-activated (C(sshd.socket), one sshd per connection), so a change
    applies to the next connection, without a restart. Where sshd runs as a plain service,
    RV(reload_required) says a reload is needed.
author: flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - flatcar.fips.attributes
  - ansible.builtin.backup
attributes:
  check_mode:
    support: full
    details:
      - Check mode validates the candidate configuration with C(sshd -t) and C(sshd -T) from a
        temporary copy and writes nothing (no host key is generated).
options:
  state:
    description:
      - V(fips) makes the effective configuration FIPS-only.
      - V(absent) removes the drop-in and restores every file the module changed from its
        C(.pre-fips) copy.
    type: str
    choices: [fips, absent]
    default: fips
  policy:
    description:
      - Replace the allow-list of a keyword, for example to offer only
        C(aes256-gcm@openssh.com) with O(policy.Ciphers). Keywords not given keep the
        collection's list. The lowercase keyword is accepted too (C(ciphers)).
      - Every algorithm listed must itself be FIPS-approved (and supported by this OpenSSH);
        others are refused, with nothing changed.
    type: dict
    default: {}
    suboptions:
      Ciphers:
        description: The ciphers sshd offers; by default the AES-GCM and AES-CTR ciphers.
        type: list
        elements: str
        aliases: [ciphers]
      MACs:
        description: The MACs sshd offers; by default HMAC-SHA2-256 and HMAC-SHA2-512, the
          encrypt-then-MAC variants first.
        type: list
        elements: str
        aliases: [macs]
      KexAlgorithms:
        description: The key exchanges sshd offers; by default ECDH on the NIST curves, then
          Diffie-Hellman group exchange and the groups 14, 16 and 18, with SHA-2.
        type: list
        elements: str
        aliases: [kexalgorithms]
      HostKeyAlgorithms:
        description: The host key signature algorithms sshd offers; by default ECDSA on the
          NIST curves and RSA with SHA-2, and their certificates.
        type: list
        elements: str
        aliases: [hostkeyalgorithms]
      PubkeyAcceptedAlgorithms:
        description: The user key signature algorithms sshd accepts (same default as
          O(policy.HostKeyAlgorithms)).
        type: list
        elements: str
        aliases: [pubkeyacceptedalgorithms]
      HostbasedAcceptedAlgorithms:
        description: The host-based authentication signature algorithms sshd accepts (same default
          as O(policy.HostKeyAlgorithms)).
        type: list
        elements: str
        aliases: [hostbasedacceptedalgorithms]
      CASignatureAlgorithms:
        description: The algorithms a certificate authority may sign user and host certificates
          with; by default ECDSA on the NIST curves and RSA with SHA-2.
        type: list
        elements: str
        aliases: [casignaturealgorithms]
  allow_hmac_sha1:
    description: Also allow C(hmac-sha1) and C(hmac-sha1-etm@openssh.com) (allowed by the RHEL FIPS
      policy, not by the DISA STIG).
    type: bool
    default: false
  sshd_config:
    description: The main sshd configuration file.
    type: path
    default: /etc/ssh/sshd_config
  drop_in:
    description:
      - The drop-in this module owns. It must sort before the other drop-ins that set crypto
        keywords (Flatcar's is C(50-flatcar-sshd.conf)).
    type: path
    default: /etc/ssh/sshd_config.d/05-fips.conf
  sshd:
    description: The sshd program. Defaults to C(sshd) on C(PATH) or in C(/usr/sbin).
    type: path
  ssh:
    description: The ssh client, asked which algorithms this OpenSSH supports (C(ssh -Q)).
    type: path
  supported_cache:
    description:
      - Where the answers of C(ssh -Q) are kept, keyed by the SHA-256 of the O(ssh) binary that
        gave them (they are compiled into it). A run whose O(ssh) has the same digest reads them
        instead of starting C(ssh) four times (so does the plan
        M(flatcar.fips.fips_facts) makes for this module); another binary, after an OS update,
        is asked again.
      - Written by a run that asked C(ssh), never in check mode; it is not a change to the host
        (the task stays C(ok)), and a cache that cannot be written only costs the next run
        time. Read only when it is a regular file that no one but root can write.
      - O(state=absent) removes it. A file at that path that is not such a cache is never
        written over or removed (the run warns and asks C(ssh)). An empty string turns the cache
        off.
    type: path
    default: /var/cache/flatcar-fips/ssh-supported.json
  connection_specs:
    description:
      - Connection specifications for C(sshd -T -C) so that C(Match) blocks are evaluated, for
        example C(user=core,host=admin.example.com,addr=192.0.2.10).
    type: list
    elements: str
    default: ["user=core,host=localhost,addr=127.0.0.1", "user=root,host=localhost,addr=127.0.0.1"]
  force:
    description: Proceed even when no FIPS-usable host key exists (every FIPS client would be
      refused).
    type: bool
    default: false
  generate_host_keys:
    description:
      - When no FIPS-usable host key exists, create an ECDSA P-256 host key
        (C(ssh_host_ecdsa_key) next to O(sshd_config)) and make sshd use it.
    type: bool
    default: false
  passwd_file:
    description: Where users and home directories are read from, for the C(authorized_keys)
      report.
    type: path
    default: /etc/passwd
  socket_activated:
    description:
      - Whether sshd is socket-activated (then no reload is needed). By default, detected from
        systemd's C(sshd.socket) being enabled.
    type: bool
notes:
  - A user who logs in only with an C(ssh-ed25519) key is reported in
    RV(users_without_fips_key) but not blocked here; the P(flatcar.fips.fips_mode#role) role refuses
    to continue when the connecting user is among them.
seealso:
  - module: flatcar.fips.openssl_fips
  - name: sshd_config(5)
    description: Keyword semantics, Include and Match.
    link: https://man.openbsd.org/sshd_config
"""

EXAMPLES = r"""
- name: Only FIPS-approved SSH algorithms (drop-in 05-fips.conf)
  flatcar.fips.sshd_crypto:
  register: sshd

- name: Show what was removed per keyword
  ansible.builtin.debug:
    var: sshd.removed

- name: Legacy host with only an ed25519 host key
  flatcar.fips.sshd_crypto:
    generate_host_keys: true

- name: Only AES-256-GCM and the SHA-2 ETM MACs
  flatcar.fips.sshd_crypto:
    policy:
      Ciphers: [aes256-gcm@openssh.com]
      MACs: [hmac-sha2-512-etm@openssh.com, hmac-sha2-256-etm@openssh.com]

- name: Remove the drop-in and restore what the module changed
  flatcar.fips.sshd_crypto:
    state: absent
"""

RETURN = r"""
supported:
  description:
    - Where this run learned what this OpenSSH supports (C(state=fips) only; null otherwise).
    - C(source) is C(cache) (the answers kept for the binary with this C(sha256)) or
      C(ssh -Q); C(cache_written) is true when this run kept them for the next one.
  returned: always
  type: dict
  sample: {ssh: /usr/bin/ssh, sha256: 3f1c..., cache: /var/cache/flatcar-fips/ssh-supported.json,
           source: cache, cache_written: false}
effective:
  description: The effective algorithm lists after the task (C(sshd -T)), by keyword.
  returned: always
  type: dict
  sample: {Ciphers: [aes256-gcm@openssh.com, aes128-gcm@openssh.com]}
removed:
  description: Algorithms that were offered before and are not after, by keyword.
  returned: always
  type: dict
  sample: {Ciphers: [chacha20-poly1305@openssh.com], KexAlgorithms: [curve25519-sha256]}
rolled_back:
  description: On a failure after the first write, the files put back as they were.
  returned: failed after a write
  type: list
  elements: str
files_changed:
  description: Files written, created or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
main_config_fixed:
  description: Why the main C(sshd_config) had to change, empty when it did not.
  returned: always
  type: list
  elements: str
  sample: ["Ciphers is set on line 3, before the Include of the drop-in directory"]
host_keys:
  description: The host keys sshd uses, with type, bits and whether they are FIPS-usable.
  returned: always
  type: list
  elements: dict
generated_host_key:
  description: The host key that was (or would be) generated.
  returned: when a host key was generated
  type: str
generated_host_public_key:
  description: The generated host key's public key (C(type base64)), the line a client's
    known-hosts file needs (the P(flatcar.fips.fips_mode#role) role adds it there when asked to
    learn host keys).
  returned: when a host key was generated, not in check mode
  type: str
  sample: ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE...
users_without_fips_key:
  description: Users whose authorized_keys files hold keys, none of them FIPS-usable.
  returned: always
  type: list
  elements: str
reload_required:
  description: Whether sshd must be reloaded for the change to apply (sshd not socket-activated).
  returned: always
  type: bool
backup_files:
  description: Backup files created with O(backup=true).
  returned: when O(backup=true) and a file was replaced
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import sshd_writer


def main():
    module = AnsibleModule(argument_spec=sshd_writer.argument_spec(), supports_check_mode=True)
    runner = sshd_writer.SshdCrypto(module)
    ch.run(module, runner.changes, runner.run)


if __name__ == "__main__":
    main()
