# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd_crypto through AnsibleModule over every Flatcar sshd layout, judged by the real
sshd -T (OpenSSH from Debian, installed by make setup)."""

import json
import os
import shutil
import subprocess

import pytest
from sshd_layouts import Layout

from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, ssh_keys
from ansible_collections.flatcar.fips.plugins.modules import sshd_crypto


def approved_only(effective, spec=None):
    for keyword in algorithms.KEYWORDS:
        values = effective[keyword.lower()].split(",")
        assert not algorithms.unapproved(keyword, values), (keyword, spec, values)


@pytest.mark.parametrize("kind", ["stable", "lts", "legacy", "before_include", "match"])
def test_every_layout_ends_fips_only(run_module, tmp_path, keys, kind):
    layout = Layout(str(tmp_path), kind, keys)
    before = layout.effective()
    if kind in ("lts", "legacy", "before_include"):
        assert "chacha20-poly1305@openssh.com" in before["ciphers"]
    r = run_module(sshd_crypto.main, layout.module_args())
    assert r.get("failed") is not True, r.get("msg")
    assert r["changed"] is True
    after = layout.effective()
    approved_only(after)
    for spec in ("user=core,host=localhost,addr=127.0.0.1",
                 "user=root,host=localhost,addr=127.0.0.1"):
        approved_only(layout.effective(spec), spec)
    assert r["effective"]["Ciphers"] == after["ciphers"].split(",")
    assert os.path.isfile(layout.drop_in)
    if kind in ("lts", "legacy", "before_include"):
        assert "chacha20-poly1305@openssh.com" in r["removed"]["Ciphers"]
    # the main file changes only where the drop-in would not win
    fixed = kind in ("legacy", "before_include")
    assert bool(r["main_config_fixed"]) == (fixed or kind == "match")
    if kind == "legacy":
        assert not os.path.islink(layout.main)
        assert os.readlink(layout.main + ".pre-fips") == layout.usr_main
        with open(layout.usr_main) as f:
            assert "Include" not in f.read(), "wrote through the symlink"
    if fixed:
        with open(layout.main) as f:
            directives = [ln for ln in f.read().splitlines() if ln.strip()
                          and not ln.startswith("#")]
        assert directives[0] == "Include %s" % layout.drop_in
    # idempotent
    again = run_module(sshd_crypto.main, layout.module_args())
    assert again["changed"] is False, again["files_changed"]


def test_stable_layout_writes_only_the_drop_in(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "stable", keys)
    with open(layout.main) as f:
        main_before = f.read()
    r = run_module(sshd_crypto.main, layout.module_args(), diff=True)
    assert r["files_changed"] == [layout.drop_in]
    with open(layout.main) as f:
        assert f.read() == main_before
    with open(layout.drop_in) as f:
        text = f.read()
    assert text.startswith("# Managed by flatcar.fips.sshd_crypto")
    assert "Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr," \
           "aes128-ctr\n" in text
    assert "RequiredRSASize 2048\n" in text  # OpenSSH 9.2 knows it
    assert "GSSAPI" not in text
    assert oct(os.stat(layout.drop_in).st_mode & 0o777) == "0o600"
    assert r["diff"][0]["after"] == text
    # Flatcar's +ssh-rsa no longer applies
    assert "ssh-rsa" not in layout.effective()["pubkeyacceptedalgorithms"].split(",")


def test_match_block_value_is_rewritten(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "match", keys)
    core = "user=core,host=localhost,addr=127.0.0.1"
    assert "ssh-ed25519" in layout.effective(core)["pubkeyacceptedalgorithms"]
    r = run_module(sshd_crypto.main, layout.module_args())
    assert any("Match block" in reason for reason in r["main_config_fixed"])
    approved_only(layout.effective(core), core)
    with open(layout.main) as f:
        assert "\tPubkeyAcceptedAlgorithms ecdsa-sha2-nistp256," in f.read()


def test_check_mode_writes_nothing_and_predicts(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "legacy", keys)
    before = sorted(os.listdir(layout.ssh)), sorted(os.listdir(layout.dropin_dir))
    check = run_module(sshd_crypto.main, layout.module_args(), check_mode=True)
    assert (sorted(os.listdir(layout.ssh)), sorted(os.listdir(layout.dropin_dir))) == before
    assert os.path.islink(layout.main)
    done = run_module(sshd_crypto.main, layout.module_args())
    for key in ("changed", "files_changed", "effective", "removed", "main_config_fixed"):
        assert check[key] == done[key], key


def test_absent_restores_everything(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "legacy", keys)
    before = layout.effective()
    assert run_module(sshd_crypto.main, layout.module_args())["changed"]
    r = run_module(sshd_crypto.main, layout.module_args(state="absent"))
    assert r["changed"] is True
    assert os.readlink(layout.main) == layout.usr_main
    assert not os.path.exists(layout.drop_in)
    assert not os.path.lexists(layout.main + ".pre-fips")
    assert layout.effective() == before
    assert run_module(sshd_crypto.main, layout.module_args(state="absent"))["changed"] is False


def test_syntax_error_names_the_file_and_line(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "syntax_error", keys)
    r = run_module(sshd_crypto.main, layout.module_args())
    assert r["failed"] is True
    assert "%s line" % layout.main in r["msg"] and "NoSuchKeyword" in r["msg"]
    assert "Nothing was changed" in r["msg"]
    assert not os.path.exists(layout.drop_in)


def test_ed25519_only_host_key_is_refused(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "stable", keys, host_keys=("host_ed25519",))
    r = run_module(sshd_crypto.main, layout.module_args())
    assert r["failed"] is True and "No FIPS-usable host key" in r["msg"]
    assert not os.path.exists(layout.drop_in)


def test_ed25519_only_host_key_generated(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "stable", keys, host_keys=("host_ed25519",))
    r = run_module(sshd_crypto.main, layout.module_args(generate_host_keys=True))
    assert r.get("failed") is not True, r.get("msg")
    key = os.path.join(layout.ssh, "ssh_host_ecdsa_key")
    assert r["generated_host_key"] == key and os.path.isfile(key)
    assert key in layout.effective()["hostkey"] or \
        "HostKey %s" % key in open(layout.drop_in).read()


def test_users_without_fips_key_are_reported(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "stable", keys)
    with open(keys.path("client_ed25519.pub")) as f, open(layout.authorized_keys, "w") as g:
        g.write(f.read())
    r = run_module(sshd_crypto.main, layout.module_args())
    assert r["users_without_fips_key"] == ["root"]
    assert "User root has authorized keys, none of them FIPS-usable" in str(r.get("warnings"))


@pytest.mark.parametrize(("policy", "fragment"), [
    ({"Ciphers": ["chacha20-poly1305@openssh.com"]}, "not FIPS-approved for Ciphers"),
    # an unknown keyword: Ansible's own argument checking (policy has one sub-option per keyword)
    ({"Cipherz": ["aes256-ctr"]}, "Unsupported parameters for (basic.py) module: policy.Cipherz"),
])
def test_bad_policy(run_module, tmp_path, keys, policy, fragment):
    layout = Layout(str(tmp_path), "stable", keys)
    r = run_module(sshd_crypto.main, layout.module_args(policy=policy))
    assert r["failed"] is True and fragment in r["msg"]
    assert not os.path.exists(layout.drop_in)


@pytest.mark.parametrize("keyword", ["Ciphers", "ciphers"])
def test_policy_override(run_module, tmp_path, keys, keyword):
    layout = Layout(str(tmp_path), "lts", keys)
    r = run_module(sshd_crypto.main,
                   layout.module_args(policy={keyword: ["aes256-gcm@openssh.com"]}))
    assert r["effective"]["Ciphers"] == ["aes256-gcm@openssh.com"]
    assert layout.effective()["ciphers"] == "aes256-gcm@openssh.com"


def test_missing_sshd(run_module, tmp_path, keys):
    layout = Layout(str(tmp_path), "stable", keys)
    r = run_module(sshd_crypto.main, layout.module_args(sshd=str(tmp_path / "no-sshd")))
    assert r["failed"] is True and "sshd was not found" in r["msg"]


def test_key_info(keys, tmp_path):
    assert ssh_keys.key_info("# comment") is None
    with open(keys.path("client_ecdsa.pub")) as f:
        assert ssh_keys.key_info(f.read()) == ("ecdsa-sha2-nistp256", 256)
    with open(keys.path("client_ed25519.pub")) as f:
        assert ssh_keys.key_info('from="10.0.0.1" ' + f.read())[0] == "ssh-ed25519"
    for bits in (1024, 3072):
        path = str(tmp_path / ("rsa%d" % bits))
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "rsa", "-b", str(bits), "-f", path],
                       check=True, capture_output=True)
        with open(path + ".pub") as f:
            key_type, found = ssh_keys.key_info(f.read())
        assert (key_type, found) == ("ssh-rsa", bits)
        assert algorithms.key_is_fips_usable(key_type, found) is (bits >= 2048)


def test_prefixed_values_before_the_include(run_module, tmp_path, keys):
    """^ (prepend) before the Include, - (remove) and + (append) in a later drop-in."""
    layout = Layout(str(tmp_path), "stable", keys)
    with open(layout.main) as f:
        text = f.read()
    with open(layout.main, "w") as f:
        f.write(text.replace("# Ciphers and keying\n",
                             "# Ciphers and keying\nKexAlgorithms ^curve25519-sha256\n"))
    with open(os.path.join(layout.dropin_dir, "60-local.conf"), "w") as f:
        f.write("Ciphers -aes128-ctr\nMACs +hmac-sha1\n")
    assert layout.effective()["kexalgorithms"].startswith("curve25519-sha256,")
    r = run_module(sshd_crypto.main, layout.module_args())
    assert r.get("failed") is not True, r.get("msg")
    assert any("KexAlgorithms is set in" in reason for reason in r["main_config_fixed"])
    approved_only(layout.effective())
    with open(os.path.join(layout.dropin_dir, "60-local.conf")) as f:
        assert f.read() == "Ciphers -aes128-ctr\nMACs +hmac-sha1\n"  # not ours: untouched


def test_ssh_q_answers_are_kept_per_ssh_binary(run_module, tmp_path, keys):
    """ssh -Q's answers are compiled into ssh: a real run keeps them keyed by the binary's
    SHA-256 (check mode never writes them), the next run uses them instead of starting ssh, and
    another binary (an OS update), a cache someone else could write or a damaged cache is not
    believed: ssh is asked again."""
    layout = Layout(str(tmp_path / "tree"), "stable", keys)
    ssh = str(tmp_path / "ssh")
    shutil.copy2(shutil.which("ssh"), ssh)
    cache = layout.supported_cache

    def run(check=False):
        return run_module(sshd_crypto.main, layout.module_args(ssh=ssh), check_mode=check)

    planned = run(check=True)
    assert planned["supported"]["source"] == "ssh -Q"
    assert not planned["supported"]["cache_written"] and not os.path.exists(cache)
    first = run()
    assert first["changed"] and first["supported"]["cache_written"], first["supported"]
    assert os.stat(cache).st_mode & 0o777 == 0o644
    with open(cache) as f:
        kept = json.load(f)
    assert kept["sha256"] == first["supported"]["sha256"]
    assert "aes128-gcm@openssh.com" in kept["answers"]["cipher"]
    again = run()
    assert again["supported"]["source"] == "cache" and again["changed"] is False
    assert not again["supported"]["cache_written"]
    assert again["effective"] == first["effective"]
    # the answers decide: a cache saying this ssh lacks aes128-gcm plans a drop-in without it
    kept["answers"]["cipher"].remove("aes128-gcm@openssh.com")
    with open(cache, "w") as f:
        json.dump(kept, f)
    told = run(check=True)
    assert told["supported"]["source"] == "cache" and told["changed"] is True
    # not believed: writable by the group, not JSON, or another binary
    os.chmod(cache, 0o664)
    assert run(check=True)["supported"]["source"] == "ssh -Q"
    os.chmod(cache, 0o644)
    with open(cache, "w") as f:
        f.write("{not json")
    assert run(check=True)["supported"]["source"] == "ssh -Q"
    with open(cache, "w") as f:
        json.dump(kept, f)
    with open(ssh, "ab") as f:
        f.write(b"\0")  # trailing bytes: the same program, another digest
    updated = run()
    assert updated["supported"]["source"] == "ssh -Q" and updated["changed"] is False
    assert updated["supported"]["cache_written"]
    with open(cache) as f:
        assert json.load(f)["sha256"] == updated["supported"]["sha256"] != kept["sha256"]
    # state=absent takes the cache away with the drop-in (it was written for state=fips); check
    # mode shows the removal in its diff and removes nothing
    told = run_module(sshd_crypto.main, layout.module_args(ssh=ssh, state="absent"),
                      check_mode=True)
    assert cache in told["files_changed"] and os.path.exists(cache)
    assert [d for d in told["diff"] if d["after_header"] == cache]
    gone = run_module(sshd_crypto.main, layout.module_args(ssh=ssh, state="absent"))
    assert gone["changed"] and cache in gone["files_changed"] and not os.path.exists(cache)
    removal = [d for d in gone["diff"] if d["after_header"] == cache]
    assert removal and '"sha256"' in removal[0]["before"] and removal[0]["after"] == ""


def test_a_supported_cache_that_names_another_file_is_left_alone(run_module, tmp_path, keys):
    """supported_cache pointing at a file that is not a cache (a slip of the pen): it is never
    written over nor removed; the run warns and asks ssh."""
    layout = Layout(str(tmp_path / "tree"), "stable", keys)
    other = tmp_path / "notes.txt"
    other.write_text("not a cache\n")
    r = run_module(sshd_crypto.main, layout.module_args(supported_cache=str(other)))
    assert r["changed"] and r["supported"]["source"] == "ssh -Q"
    assert not r["supported"]["cache_written"]
    assert "is not a cache" in str(r.get("warnings")), r.get("warnings")
    gone = run_module(sshd_crypto.main, layout.module_args(supported_cache=str(other),
                                                           state="absent"))
    assert gone["changed"] and str(other) not in gone["files_changed"]
    assert other.read_text() == "not a cache\n"
