# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sshd_config reader: tokens, Include order, Match scope, first value wins, flattening."""

import os
import subprocess

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import files
from ansible_collections.flatcar.fips.plugins.module_utils import sshd_config as sc


@pytest.mark.parametrize(("line", "words"), [
    ("Ciphers aes128-ctr,aes256-ctr", ["Ciphers", "aes128-ctr,aes256-ctr"]),
    ("  ciphers=aes128-ctr", ["ciphers", "aes128-ctr"]),
    ("Ciphers = aes128-ctr", ["Ciphers", "aes128-ctr"]),
    ('Include "/etc/ssh/sshd_config.d/*.conf"', ["Include", "/etc/ssh/sshd_config.d/*.conf"]),
    ("Banner /a # comment", ["Banner", "/a"]),
    ('AuthorizedKeysFile ".ssh/my keys" .ssh/authorized_keys',
     ["AuthorizedKeysFile", ".ssh/my keys", ".ssh/authorized_keys"]),
    ("# Ciphers x", []),
    ("   ", []),
    ("KexAlgorithms -curve25519-sha256", ["KexAlgorithms", "-curve25519-sha256"]),
])
def test_tokenize(line, words):
    assert sc.tokenize(line) == words


def test_unterminated_quote():
    with pytest.raises(sc.SshdConfigError) as e:
        sc.tokenize('Banner "x', "/f", 3)
    assert str(e.value) == "/f line 3: unterminated quote"


def tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "sshd_config")


def reader(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def test_include_order_match_scope_and_first_value(tmp_path):
    main = tree(tmp_path, {
        "sshd_config": "Port 22\nInclude d/*.conf\nCiphers aes128-ctr\n"
                       "Match User core\n  PubkeyAcceptedAlgorithms +ssh-ed25519\n",
        "d/50-flatcar.conf": "Ciphers chacha20-poly1305@openssh.com\nUsePAM yes\n",
        "d/05-fips.conf": "Ciphers aes256-gcm@openssh.com\n",
        "d/ignored.txt": "Ciphers 3des-cbc\n",
    })
    cfg = sc.Config(main, reader)
    assert [os.path.basename(p) for p, _m in cfg.reads] == \
        ["sshd_config", "05-fips.conf", "50-flatcar.conf"]
    first = cfg.first_global("ciphers")
    assert first.path.endswith("05-fips.conf") and first.args == ["aes256-gcm@openssh.com"]
    [in_match] = cfg.in_match("PubkeyAcceptedAlgorithms")
    assert in_match.match == "User core" and in_match.value == "+ssh-ed25519"
    assert cfg.reads_unconditionally(str(tmp_path / "d/05-fips.conf"))


def test_candidate_texts_replace_and_add_files(tmp_path):
    main = tree(tmp_path, {"sshd_config": "Include d/*.conf\n", "d/50-x.conf": "Ciphers a\n"})
    new = str(tmp_path / "d/05-fips.conf")
    cfg = sc.Config(main, reader, {new: "Ciphers b\n"})
    assert cfg.first_global("Ciphers").args == ["b"]
    gone = sc.Config(main, reader, {str(tmp_path / "d/50-x.conf"): None})
    assert gone.first_global("Ciphers") is None


def test_include_inside_match_is_conditional(tmp_path):
    main = tree(tmp_path, {"sshd_config": "Match User x\nInclude d/*.conf\n",
                           "d/a.conf": "Ciphers a\n"})
    cfg = sc.Config(main, reader)
    assert cfg.first_global("Ciphers") is None
    assert not cfg.reads_unconditionally(str(tmp_path / "d/a.conf"))


def test_match_all_is_unconditional(tmp_path):
    main = tree(tmp_path, {"sshd_config": "Match User x\nBanner /x\nMatch all\nBanner /y\n"})
    assert sc.Config(main, reader).first_global("Banner").args == ["/y"]


def test_missing_main_file(tmp_path):
    with pytest.raises(sc.SshdConfigError, match="does not exist"):
        sc.Config(str(tmp_path / "sshd_config"), reader)


def test_flatten_maps_sshd_errors_back(tmp_path):
    """The flattened file is what sshd judges; its errors name the real file and line."""
    main = tree(tmp_path, {"sshd_config": "Port 2222\nInclude d/*.conf\n",
                           "d/10-bad.conf": "# a comment\nNoSuchOption yes\n"})
    text, origin = sc.Config(main, reader).flatten()
    flat = tmp_path / "flat"
    flat.write_text(text)
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(flat)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode != 0
    message = sc.explain_sshd_error(proc.stderr, str(flat), origin)
    assert "%s line 2" % (tmp_path / "d/10-bad.conf") in message


def test_insert_include_after_the_leading_comments():
    text = "# head\n# more\n\nPort 22\n"
    assert sc.insert_include(text, "/x.conf") == \
        "# head\n# more\n\nInclude /x.conf\n\nPort 22\n"
    assert sc.insert_include("Port 22\n", "/x.conf") == "Include /x.conf\n\nPort 22\n"
    assert sc.insert_include("# only\n", "/x.conf") == "# only\n\nInclude /x.conf\n\n"


def test_replace_value_keeps_indentation():
    text = "Match User core\n\tPubkeyAcceptedAlgorithms +ssh-ed25519\n"
    assert sc.replace_value(text, 1, "PubkeyAcceptedAlgorithms", "ecdsa-sha2-nistp256") == \
        "Match User core\n\tPubkeyAcceptedAlgorithms ecdsa-sha2-nistp256\n"


def test_parse_effective():
    eff = sc.parse_effective("ciphers a,b\nhostkey /k1\nhostkey /k2\n")
    assert eff == {"ciphers": "a,b", "hostkey": "/k1\n/k2"}
    # one splitting rule for what sshd prints and for a value read from a file ("a, b")
    assert sc.algorithm_lists(eff, ["Ciphers", "MACs"]) == {"Ciphers": ["a", "b"], "MACs": []}
    assert sc.split_list("aes256-ctr, aes128-ctr,,") == ["aes256-ctr", "aes128-ctr"]
    assert sc.host_key_paths(eff) == ["/k1", "/k2"]
    assert sc.host_key_paths({}) == []


@pytest.mark.parametrize("text, conditional", [
    ("Port 22\nPasswordAuthentication no\n", False),
    ("Port 22\nMatch User deploy\n  PasswordAuthentication yes\n", True),
    ("Port 22\nmatch all\n", True),  # Match all changes nothing, but any Match line asks sshd
    ("Port 22\n  MATCH=Address 10.0.0.0/8\n", True),
    ("Port 22\n# Match User deploy\nMatchless yes\n", False),
    ("Include extra.conf\n", True),  # a Match line in an included file
])
def test_conditional_says_when_a_spec_can_change_the_answer(tmp_path, text, conditional):
    """Without a Match line in any file sshd reads, sshd -T -C spec prints what sshd -T
    prints; so only then may the spec's own sshd -T be left out."""
    main = tmp_path / "sshd_config"
    main.write_text(text)
    (tmp_path / "extra.conf").write_text("Match Group admins\n  X11Forwarding no\n")
    assert sc.Config(str(main), files.read_text).conditional() is conditional
    if conditional or "Matchless" in text:
        return
    # the premise, asked of the real sshd: no Match line, the same answer for any spec
    key = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(key)], check=True)
    main.write_text(text + "HostKey %s\n" % key)
    os.makedirs("/run/sshd", exist_ok=True)

    def ask(*extra):
        return subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(main), *extra], check=True,
                              capture_output=True, text=True, timeout=60).stdout

    for spec in ("user=root,host=localhost,addr=127.0.0.1", "user=core,host=a.example,"
                 "addr=192.0.2.7,laddr=10.0.0.1,lport=2222"):
        assert ask("-C", spec) == ask()
