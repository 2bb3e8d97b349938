# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sshd_config reader: tokens, Include order, Match scope, first value wins, flattening."""

import os
import subprocess

import pytest

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
