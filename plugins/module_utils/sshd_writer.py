# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What M(flatcar.fips.sshd_crypto) does: read sshd's effective configuration, decide the drop-in
(and any fix of the main file), validate the candidate with the real sshd, apply through
``changes.Changes``. ``fips_facts`` runs the same code in check mode for its plan.

Standard library only: runs on the managed host.
"""

import hashlib
import os
import shutil
import tempfile

from ansible_collections.flatcar.fips.plugins.module_utils import (
    algorithms,
    files,
    ssh_keys,
    ssh_supported,
)
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
                           host_keys=[], users_without_fips_key=[], supported=None)
        self.tmp = tempfile.mkdtemp(prefix="flatcar-fips-sshd.", dir=module.tmpdir)
        self.keep_supported = None

    # --- tools ---------------------------------------------------------------------------

    def find_sshd(self):
        sshd = self.p["sshd"] or self.module.get_bin_path("sshd", opt_dirs=["/usr/sbin", "/sbin"])
        if not sshd or not os.path.isfile(sshd):
            raise Failure("sshd was not found%s. Install OpenSSH's server or set the sshd option; "
                          "nothing was changed." % (" at %s" % sshd if sshd else ""))
        self.sshd = sshd

    def supported(self):
        """``{query: names}``: what this OpenSSH supports (``ssh -Q``), from the cache of the
        same ``ssh`` binary when there is one (``ssh_supported``); the result says which."""
        ssh = self.p["ssh"] or self.module.get_bin_path("ssh")
        if not ssh:
            self.module.warn("ssh (the client) was not found: the allow-lists are not limited to "
                             "what this OpenSSH supports; sshd -t will still validate them.")
            return {}
        queries = sorted(set(algorithms.QUERY.values()))
        cache = self.p["supported_cache"]
        try:
            digest = files.sha256_file(ssh)
        except OSError:
            digest = None  # ssh -Q below says what is wrong with it
        known = digest and ssh_supported.load(cache, digest, queries)
        self.result["supported"] = dict(ssh=ssh, sha256=digest, cache=cache or None,
                                        source="cache" if known else "ssh -Q",
                                        cache_written=False)
        if known:
            return known
        result = {}
        for query in queries:
            rc, out, _err = self.module.run_command([ssh, "-Q", query])
            if rc == 0:
                result[query] = set(out.split())
        if cache and digest and not self.check and len(result) == len(queries):
            self.keep_supported = (cache, ssh, digest, result)  # once the run has succeeded
        return result

    def save_supported(self):
        if self.keep_supported:
            why = ssh_supported.save(self.module, *self.keep_supported)
            if why:
                self.module.warn("The answers of ssh -Q were not kept for the next run (%s); "
                                 "the next run asks ssh again." % why)
            self.result["supported"]["cache_written"] = why is None

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
        """The configuration as one file for ``sshd -f``, named by its content: the same text
        is the same file, so when the candidate is the current configuration (nothing to
        change), fips_facts' plan asks sshd about it once (``plan.Commands``)."""
        text, origin = config.flatten(only_block)
        data = files.encode(text)
        path = os.path.join(self.tmp, "sshd_config-%s" % hashlib.sha256(data).hexdigest()[:20])
        with open(path, "wb") as f:
            f.write(data)
        return path, origin

    def match_scopes(self, config, name):
        """``{"Match ... (file line N)": {keyword: values}}`` for every Match block that sets an
        algorithm keyword: what a connection that only this block matches gets (one ``sshd -T``
        per such block, with the block switched on for the first connection spec)."""
        scopes = {}
        for block in config.blocks_setting(algorithms.MATCH_KEYWORDS):
            flat, origin = self.flat_file(config, "%s-match-%d" % (name, block), block)
            eff = self.sshd_effective(flat, origin, self.p["connection_specs"][0])
            scopes[config.describe_block(block)] = sc.algorithm_lists(
                eff, algorithms.MATCH_KEYWORDS)
        return scopes

    def load(self, texts=None):
        try:
            return sc.Config(self.main, read_file, texts)
        except sc.SshdConfigError as e:
            raise Failure("Cannot read the sshd configuration: %s. Nothing was changed." % e,
                          path=e.path, line=e.lineno) from e

    def effective_lists(self, config, name):
        """``(lists, matched, flat_path, origin, raw)`` of a configuration: global and per spec.
        The current configuration is asked about as sshd reads it (the main file, so that
        fips_facts' plan reuses the answers its read already got); a candidate as one flat
        file."""
        flat, origin = (self.main, None) if name == "current" else self.flat_file(config, name)

        def ask():
            raw = self.sshd_effective(flat, origin)
            if not config.conditional():
                return raw, {}  # every connection spec gets raw (Config.conditional)
            return raw, {spec: self.sshd_effective(flat, origin, spec)
                         for spec in self.p["connection_specs"]}

        try:
            try:
                raw, per_spec = ask()
            except Failure:
                if origin is not None:
                    raise
                # asked again, all of it, as one flat file: its errors name each real file and
                # line (the same answers as before, on the error path only)
                flat, origin = self.flat_file(config, name)
                raw, per_spec = ask()
        except Failure as e:
            cause = sc.classify_sshd_error(e.msg)
            if cause != "config":
                raise Failure("sshd cannot check the %s configuration (%s): %s. Nothing was "
                              "changed." % (name, sc.SSHD_ERROR_CAUSES[cause], e.msg),
                              cause=cause) from e
            raise Failure("sshd rejects the %s configuration: %s. Nothing was changed."
                          % ("candidate" if name == "candidate" else "current", e.msg),
                          cause=cause) from e
        lists = sc.algorithm_lists(raw, algorithms.KEYWORDS)
        matched = {}
        for spec, eff in per_spec.items():
            for keyword, values in sc.algorithm_lists(eff, algorithms.KEYWORDS).items():
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
        return ssh_keys.host_keys(sc.host_key_paths(raw), ssh_keys.keygen_public(self.module))

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
        return ssh_keys.users_without_fips_key(read_file(self.p["passwd_file"]),
                                               ssh_keys.authorized_keys_patterns(raw),
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
        before, matched_before, _flat, _origin, raw = self.effective_lists(current, "current")
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
                values = sc.split_list(entry.value.lstrip("+-^"))
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

        if all(read_file(path) == text for path, text in texts.items()):
            # Nothing to write: the candidate is the current configuration byte for byte, and
            # sshd -T (which checks what sshd -t checks) already answered for it; only the Match
            # blocks are asked about, as for any candidate.
            after, matched = before, dict(matched_before)
            try:
                matched.update(self.match_scopes(candidate, "candidate"))
            except Failure as e:
                raise Failure("sshd rejects the candidate configuration: %s. Nothing was changed."
                              % e.msg) from e
        else:
            after, matched, flat, origin, _raw = self.effective_lists(candidate, "candidate")
            try:
                self.sshd_effective(flat, origin, test_only=True)
            except Failure as e:
                raise Failure("sshd -t rejects the candidate configuration: %s. Nothing was "
                              "changed." % e.msg) from e
        try:
            self.assert_approved(after, matched, "the candidate configuration")
        except Failure as e:
            raise Failure(e.msg + " Nothing was changed.") from e
        self.result.update(effective=after, removed=_removed(before, after))
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
            lists = sc.algorithm_lists(raw, algorithms.KEYWORDS)
            matched = {}
            installed = self.load()
            for spec in self.p["connection_specs"] if installed.conditional() else ():
                eff = self.sshd_effective(self.main, spec=spec)
                matched[spec] = sc.algorithm_lists(eff, algorithms.KEYWORDS)
            matched.update(self.match_scopes(installed, "installed"))
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
        cache = self.p["supported_cache"]
        if ssh_supported.ours(cache):  # a state=fips run wrote it
            self.changes.diff(cache, read_file(cache), "")
            self.changes.remove(cache)
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
        self.result.update(effective=after, removed=_removed(before, after))

    def socket_activated(self):
        if self.p["socket_activated"] is not None:
            return self.p["socket_activated"]
        return any(os.path.exists(p) for p in SOCKET_UNITS)

    def run(self):
        try:
            (self.enable if self.p["state"] == "fips" else self.absent)()
            self.save_supported()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        result = dict(self.result)
        result.update(self.changes.result())
        result["reload_required"] = result["changed"] and not self.socket_activated()
        return result


def _removed(before, after):
    """``{keyword: [names]}`` offered before and no longer after (keywords that lost any)."""
    removed = {k: [a for a in before[k] if a not in after[k]] for k in algorithms.KEYWORDS}
    return {k: names for k, names in removed.items() if names}


def argument_spec():
    """The module's options (a new dict on each call); the plan in fips_facts validates
    its own copy of them with it."""
    return dict(
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
        supported_cache=dict(type="path", default=ssh_supported.DEFAULT_CACHE),
        connection_specs=dict(type="list", elements="str",
                              default=["user=core,host=localhost,addr=127.0.0.1",
                                       "user=root,host=localhost,addr=127.0.0.1"]),
        force=dict(type="bool", default=False),
        generate_host_keys=dict(type="bool", default=False),
        passwd_file=dict(type="path", default="/etc/passwd", no_log=False),
        socket_activated=dict(type="bool"),
        backup=dict(type="bool", default=False),
    )
