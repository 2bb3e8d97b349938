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
author:
  - flatcar.fips contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - flatcar.fips.all_or_nothing
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

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, files, ssh_keys
from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import sshd_config as sc
from ansible_collections.flatcar.fips.plugins.module_utils.changes import Failure

PRE_FIPS_SUFFIX = ".pre-fips"
SOCKET_UNITS = ("/etc/systemd/system/sockets.target.wants/sshd.socket",
                "/usr/lib/systemd/system/sockets.target.wants/sshd.socket")


def read_file(path):
    try:
        return files.read_text(path)
    except files.FileError as e:
        raise Failure(str(e)) from e


class SshdCrypto:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.main = self.p["sshd_config"]
        self.drop_in = self.p["drop_in"]
        self.changes = ch.Changes(module)
        self.result = dict(main_config_fixed=[], removed={}, effective={},
                           host_keys=[], users_without_fips_key=[])
        self.tmp = tempfile.mkdtemp(prefix="flatcar-fips-sshd.", dir=module.tmpdir)

    # --- tools ---------------------------------------------------------------------------

    def find_sshd(self):
        sshd = self.p["sshd"] or self.module.get_bin_path("sshd", opt_dirs=["/usr/sbin", "/sbin"])
        if not sshd or not os.path.isfile(sshd):
            raise Failure("sshd was not found%s. Install OpenSSH's server or set the sshd option; "
                          "nothing was changed." % (" at %s" % sshd if sshd else ""))
        self.sshd = sshd

    def supported(self):
        ssh = self.p["ssh"] or self.module.get_bin_path("ssh")
        if not ssh:
            self.module.warn("ssh (the client) was not found: the allow-lists are not limited to "
                             "what this OpenSSH supports; sshd -t will still validate them.")
            return {}
        result = {}
        for query in set(algorithms.QUERY.values()):
            rc, out, _err = self.module.run_command([ssh, "-Q", query])
            if rc == 0:
                result[query] = set(out.split())
        return result

    def sshd_effective(self, config_path, origin=None, spec=None, test_only=False):
        """Run ``sshd -t`` or ``sshd -T`` on ``config_path``; errors name the real files."""
        args = [self.sshd, "-t" if test_only else "-T", "-f", config_path]
        if spec:
            args += ["-C", spec]
        rc, out, err = self.module.run_command(args)
        if rc != 0:
            message = (err or out).strip()
            if origin:
                message = sc.explain_sshd_error(message, config_path, origin)
            raise Failure(message)
        return None if test_only else sc.parse_effective(out)

    def flat_file(self, config, name, only_block=None):
        text, origin = config.flatten(only_block)
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(files.encode(text))
        return path, origin

    def match_scopes(self, config, name):
        """``{"Match ... (file line N)": {keyword: values}}`` for every Match block that sets an
        algorithm keyword: what a connection that only this block matches gets (one ``sshd -T``
        per such block, with the block switched on for the first connection spec)."""
        scopes = {}
        for block in config.blocks_setting(algorithms.MATCH_KEYWORDS):
            flat, origin = self.flat_file(config, "%s-match-%d" % (name, block), block)
            eff = self.sshd_effective(flat, origin, self.p["connection_specs"][0])
            scopes[config.describe_block(block)] = {
                k: _split(eff.get(k.lower(), "")) for k in algorithms.MATCH_KEYWORDS}
        return scopes

    def load(self, texts=None):
        try:
            return sc.Config(self.main, read_file, texts)
        except sc.SshdConfigError as e:
            raise Failure("Cannot read the sshd configuration: %s. Nothing was changed." % e,
                          path=e.path, line=e.lineno) from e

    def effective_lists(self, config, name):
        """``(lists, flat_path, origin, raw)`` of a configuration: global and per spec."""
        flat, origin = self.flat_file(config, name)
        try:
            raw = self.sshd_effective(flat, origin)
            per_spec = {spec: self.sshd_effective(flat, origin, spec)
                        for spec in self.p["connection_specs"]}
        except Failure as e:
            cause = sc.classify_sshd_error(e.msg)
            if cause != "config":
                raise Failure("sshd cannot check the %s configuration (%s): %s. Nothing was "
                              "changed." % (name, sc.SSHD_ERROR_CAUSES[cause], e.msg),
                              cause=cause) from e
            raise Failure("sshd rejects the %s configuration: %s. Nothing was changed."
                          % ("candidate" if name == "candidate" else "current", e.msg),
                          cause=cause) from e
        lists = {}
        for keyword in algorithms.KEYWORDS:
            lists[keyword] = _split(raw.get(keyword.lower(), ""))
        matched = {}
        for spec, eff in per_spec.items():
            for keyword in algorithms.KEYWORDS:
                values = _split(eff.get(keyword.lower(), ""))
                if values != lists[keyword]:
                    matched.setdefault(spec, {})[keyword] = values
        if name != "current":
            try:
                matched.update(self.match_scopes(config, name))
            except Failure as e:
                raise Failure("sshd rejects the %s configuration: %s. Nothing was changed."
                              % (name, e.msg)) from e
        return lists, matched, flat, origin, raw

    # --- guards --------------------------------------------------------------------------

    def host_keys(self, raw):
        paths = [p.strip() for p in raw.get("hostkey", "").splitlines() if p.strip()]
        return ssh_keys.host_keys(paths, ssh_keys.keygen_public(self.module))

    def plan_host_key(self, keys, explicit):
        """Returns the drop-in lines for a generated host key (or []), or fails."""
        if any(k["fips_usable"] for k in keys):
            return []
        have = ", ".join("%s (%s)" % (k["path"], k["type"] or "unreadable") for k in keys)
        if self.p["generate_host_keys"]:
            path = os.path.join(os.path.dirname(self.main), "ssh_host_ecdsa_key")
            self.result["generated_host_key"] = path
            if os.path.lexists(path):
                raise Failure("%s exists but is not a usable ECDSA key; move it away and "
                              "retry. Nothing was changed." % path)

            def keygen():
                tool = self.module.get_bin_path("ssh-keygen", required=True)
                rc, out, err = self.module.run_command(
                    [tool, "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f", path])
                if rc != 0:
                    raise Failure("ssh-keygen failed: %s" % (err or out).strip())

            self.changes.create_with([path, path + ".pub"], keygen)
            if not self.module.check_mode:
                info = ssh_keys.describe(files.read_text_if_readable(path + ".pub") or "")
                self.result["generated_host_public_key"] = info and info["public_key"]
            return ["HostKey %s" % path] if explicit else []
        if self.p["force"]:
            self.module.warn("No FIPS-usable host key (%s): every FIPS client will be refused."
                             % have)
            return []
        raise Failure("No FIPS-usable host key: sshd uses %s. With only ed25519 (or RSA under "
                      "2048 bits) no FIPS host key algorithm can be offered and every FIPS client "
                      "is refused. Set generate_host_keys: true to create an ECDSA P-256 host key, "
                      "or add one yourself; force: true proceeds anyway. Nothing was changed."
                      % (have or "no host key"))

    def locked_out_users(self, raw):
        patterns = raw.get("authorizedkeysfile", ".ssh/authorized_keys").split()
        return ssh_keys.users_without_fips_key(read_file(self.p["passwd_file"]), patterns,
                                               files.read_text_if_readable)

    # --- fips ----------------------------------------------------------------------------

    def policy(self, supported, raw):
        try:
            policy = {k: v for k, v in (self.p["policy"] or {}).items() if v is not None}
            return algorithms.policy_lists(policy, self.p["allow_hmac_sha1"], supported)
        except ValueError as e:
            raise Failure("%s Nothing was changed." % e) from e

    @staticmethod
    def drop_in_text(lists, raw, extra_lines):
        return algorithms.drop_in_text(lists, "requiredrsasize" in raw, extra_lines)

    def check_drop_in(self):
        """The drop-in must be a regular file (or not exist): a directory or a FIFO there is
        said to be one, not reported as a configuration that still offers algorithms."""
        try:
            files.check_writable_target(self.drop_in)
        except files.FileError as e:
            raise Failure("drop_in: %s. Move it away or set drop_in to a file path. Nothing was "
                          "changed." % e, path=self.drop_in) from e
        if not os.path.isdir(os.path.dirname(self.drop_in)):
            raise Failure("drop_in: the directory %s does not exist. Nothing was changed."
                          % os.path.dirname(self.drop_in), path=self.drop_in)

    def enable(self):
        self.check_drop_in()
        self.find_sshd()
        supported = self.supported()
        current = self.load()
        before, _m, _flat, _origin, raw = self.effective_lists(current, "current")
        self.result["host_keys"] = keys = self.host_keys(raw)
        explicit_host_keys = current.first_global("HostKey") is not None
        extra = self.plan_host_key(keys, explicit_host_keys)
        lists = self.policy(supported, raw)
        self.result["users_without_fips_key"] = users = self.locked_out_users(raw)
        for user in users:
            self.module.warn("User %s has authorized keys, none of them FIPS-usable (ECDSA or RSA "
                             ">= 2048 bits): that user cannot log in with a key once this applies."
                             % user)

        texts = {self.drop_in: self.drop_in_text(lists, raw, extra)}
        candidate = self.load(texts)
        # Does the drop-in win for every keyword? If not, read it first from the main file.
        reasons = []
        if not candidate.reads_unconditionally(self.drop_in):
            reasons.append("%s is not included (no Include of it outside Match blocks)"
                           % self.drop_in)
        for keyword in algorithms.KEYWORDS:
            first = candidate.first_global(keyword)
            if first is not None and first.path != self.drop_in:
                reasons.append("%s is set in %s line %d, which sshd reads before the drop-in"
                               % (keyword, first.path, first.lineno))
        if os.path.islink(self.main) and reasons:
            reasons.append("%s is a symlink (to %s): it is replaced by a regular file"
                           % (self.main, os.readlink(self.main)))
        main_text = candidate.text(self.main)
        if reasons:
            texts[self.main] = sc.insert_include(main_text, self.drop_in,
                                                 candidate.files[self.main].newline)
            candidate = self.load(texts)
        self.result["main_config_fixed"] = reasons

        # Match blocks: keywords allowed there, with values that are not approved.
        for keyword in algorithms.MATCH_KEYWORDS:
            for entry in candidate.in_match(keyword):
                values = _split(entry.value.lstrip("+-^"))
                plain = entry.value[:1] not in "+-^"
                if plain and not algorithms.unapproved(keyword, values,
                                                       self.p["allow_hmac_sha1"]):
                    continue
                kept = [v for v in values if v in lists[keyword]] if plain else []
                new_value = ",".join(kept or lists[keyword])
                # Several blocks of one file: each rewrite builds on the previous one.
                text = texts[entry.path] if entry.path in texts else candidate.text(entry.path)
                texts[entry.path] = sc.replace_value(text, entry.index, entry.keyword, new_value)
                self.result["main_config_fixed"].append(
                    "%s %s in a Match block (%s line %d) became %s"
                    % (keyword, entry.value, entry.path, entry.lineno, new_value))
        candidate = self.load(texts)

        after, matched, flat, origin, _raw = self.effective_lists(candidate, "candidate")
        try:
            self.sshd_effective(flat, origin, test_only=True)
        except Failure as e:
            raise Failure("sshd -t rejects the candidate configuration: %s. Nothing was changed."
                          % e.msg) from e
        try:
            self.assert_approved(after, matched, "the candidate configuration")
        except Failure as e:
            raise Failure(e.msg + " Nothing was changed.") from e
        self.result["effective"] = after
        self.result["removed"] = {k: [a for a in before[k] if a not in after[k]]
                                  for k in algorithms.KEYWORDS
                                  if [a for a in before[k] if a not in after[k]]}
        self.install(texts)

    def assert_approved(self, lists, matched, what):
        problems = []
        for keyword, values in lists.items():
            bad = algorithms.unapproved(keyword, values, self.p["allow_hmac_sha1"])
            if bad:
                problems.append("%s offers %s" % (keyword, ",".join(bad)))
        for spec, per in matched.items():
            for keyword, values in per.items():
                bad = algorithms.unapproved(keyword, values, self.p["allow_hmac_sha1"])
                if bad:
                    problems.append("%s offers %s for %s" % (keyword, ",".join(bad), spec))
        if problems:
            raise Failure("%s still offers algorithms that are not FIPS-approved: %s."
                          % (what, "; ".join(problems)))

    def install(self, texts):
        """Write every planned file (a failure of any rolls back all: changes.run)."""
        written = False
        for path, text in texts.items():
            current = read_file(path)
            if current == text:
                continue
            self.changes.diff(path, current, text)
            if path != self.drop_in and current is not None:
                saved = path + PRE_FIPS_SUFFIX
                if not os.path.lexists(saved):
                    self.changes.copy(path, saved)
            # new files (the drop-in, a replaced symlink) get sshd_config's usual 0600;
            # a symlink is replaced by a regular file, never written through
            self.changes.write(path, text, mode=0o600,
                               backup=self.p["backup"] and not os.path.islink(path))
            written = True
        if written and not self.check:
            self.confirm()

    def confirm(self):
        """The files are in place: ask sshd about the real configuration, with every
        connection spec and every Match block that sets algorithms; roll back if wrong."""
        try:
            self.sshd_effective(self.main, test_only=True)
            raw = self.sshd_effective(self.main)
            lists = {k: _split(raw.get(k.lower(), "")) for k in algorithms.KEYWORDS}
            matched = {}
            for spec in self.p["connection_specs"]:
                eff = self.sshd_effective(self.main, spec=spec)
                matched[spec] = {k: _split(eff.get(k.lower(), "")) for k in algorithms.KEYWORDS}
            matched.update(self.match_scopes(self.load(), "installed"))
            self.assert_approved(lists, matched, "the installed configuration")
            self.result["effective"] = lists
        except Failure as e:
            raise Failure("After writing, sshd disagreed: %s." % e.msg.rstrip(".")) from e

    # --- absent --------------------------------------------------------------------------

    def absent(self):
        self.find_sshd()
        current = self.load()
        before, _m, _flat, _origin, _raw = self.effective_lists(current, "current")
        if os.path.lexists(self.drop_in):
            self.changes.diff(self.drop_in, read_file(self.drop_in), "")
            self.changes.remove(self.drop_in)
        for path in sorted(current.files):
            saved = path + PRE_FIPS_SUFFIX
            if not os.path.lexists(saved):
                continue
            self.changes.diff(path, read_file(path), read_file(saved))
            self.changes.rename(saved, path)
        if not self.check:
            after_config = self.load()
        else:
            texts = {self.drop_in: None}
            for path in current.files:
                saved = path + PRE_FIPS_SUFFIX
                if os.path.lexists(saved):
                    texts[path] = read_file(saved)
            after_config = self.load(texts)
        after, _m, _flat, _origin, _raw = self.effective_lists(after_config, "restored")
        self.result["effective"] = after
        self.result["removed"] = {k: [a for a in before[k] if a not in after[k]]
                                  for k in algorithms.KEYWORDS
                                  if [a for a in before[k] if a not in after[k]]}

    def socket_activated(self):
        if self.p["socket_activated"] is not None:
            return self.p["socket_activated"]
        return any(os.path.exists(p) for p in SOCKET_UNITS)

    def run(self):
        try:
            if self.p["state"] == "fips":
                self.enable()
            else:
                self.absent()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        result = dict(self.result)
        result.update(self.changes.result())
        result["reload_required"] = result["changed"] and not self.socket_activated()
        return result


def _split(value):
    return [v for v in value.replace(" ", ",").split(",") if v]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["fips", "absent"], default="fips"),
            # algorithm names, not secrets ("Key" in a keyword name is not a key)
            policy=dict(type="dict", default={}, options={
                keyword: dict(type="list", elements="str", aliases=[keyword.lower()],
                              no_log=False)
                for keyword in algorithms.KEYWORDS}),
            allow_hmac_sha1=dict(type="bool", default=False),
            sshd_config=dict(type="path", default="/etc/ssh/sshd_config"),
            drop_in=dict(type="path", default=algorithms.DROP_IN),
            sshd=dict(type="path"),
            ssh=dict(type="path"),
            connection_specs=dict(type="list", elements="str",
                                  default=["user=core,host=localhost,addr=127.0.0.1",
                                           "user=root,host=localhost,addr=127.0.0.1"]),
            force=dict(type="bool", default=False),
            generate_host_keys=dict(type="bool", default=False),
            passwd_file=dict(type="path", default="/etc/passwd", no_log=False),
            socket_activated=dict(type="bool"),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    runner = SshdCrypto(module)
    ch.run(module, runner.changes, runner.run)


if __name__ == "__main__":
    main()
