# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cryptsetup in FIPS mode for real, on this machine: the FIPS build (tests/fips/
build-cryptsetup-fips.sh: cryptsetup 2.7+ --enable-fips with the OpenSSL 3.5 backend, as Flatcar
builds it) with the documented FIPS openssl.cnf and the real fips.so (luks_images.fips_cryptsetup
says what is wired by the test and why). Header work on image files needs no device-mapper; the
VM tier opens the volumes through dm-crypt.

Debian's own cryptsetup is not a FIPS build: with it, cryptsetup.fips_mode is measured false
(not unknown), whatever OpenSSL says, and argon2 keeps working."""

import shutil

import pytest
from luks_images import FAST_ARGON, cryptsetup, fips_cryptsetup, image, kdfs

TASK = "Audit or convert LUKS keyslots"
FACTS = "Read the LUKS layer as fips_facts does"


@pytest.fixture
def fips(tmp_path):
    return fips_cryptsetup(str(tmp_path / "fips"))


def test_the_seeds_own_claims(fips, tmp_path):
    """The guide: on a FIPS host 'cryptsetup --verbose luksFormat' says 'Running in FIPS mode.'
    and chooses PBKDF2; argon2 is refused."""
    default = str(tmp_path / "default.img")
    with open(default, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    rc, out = cryptsetup("--verbose", "luksFormat", "--type", "luks2", "--key-file=-",
                         "--pbkdf-force-iterations", "1000", default, key=b"alpha", tool=fips)
    assert rc == 0, out
    assert "Running in FIPS mode." in out
    assert kdfs(default) == {"0": "pbkdf2"}
    refused = str(tmp_path / "refused.img")
    with open(refused, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    rc, out = cryptsetup("luksFormat", "--type", "luks2", "--pbkdf", "argon2id", *FAST_ARGON,
                         "--key-file=-", refused, key=b"alpha", tool=fips)
    assert rc != 0 and "Only PBKDF2 is supported in FIPS mode." in out, out


def test_argon2id_refused_then_converted_and_opened(playbook, fips, tmp_path):
    # formatted elsewhere (a non-FIPS host: Debian's cryptsetup), brought to the FIPS host
    volume = image(str(tmp_path / "elsewhere.img"))
    assert kdfs(volume) == {"0": "argon2id"}
    rc, out = cryptsetup("open", "--test-passphrase", "--key-file=-", volume, key=b"alpha",
                         tool=fips)
    # cryptsetup's own words: the argon2 derivation fails (EINVAL), which is not what a wrong
    # passphrase gives ("No key available with this passphrase.", exit code 2)
    assert rc == 1, "the FIPS cryptsetup opened an argon2id keyslot: %s" % out
    assert "Keyslot open failed." in out, out
    assert "No key available" not in out
    # the same key opens it outside FIPS mode: the refusal is FIPS, not the key
    assert cryptsetup("open", "--test-passphrase", "--key-file=-", volume, key=b"alpha")[0] == 0

    args = dict(state="pbkdf2", device=volume, passphrase="alpha", pbkdf_iterations=1000,
                cryptsetup=fips, header_backup_dir=str(tmp_path / "backups"))
    check = playbook("luks_pbkdf.yml", args, check=True)
    assert check.rc == 0, check.stdout
    predicted = check.task(TASK)
    assert predicted["converted"] == {volume: ["0"]} and predicted["not_opened"] == []
    assert predicted["cryptsetup_fips_mode"] is True
    assert kdfs(volume) == {"0": "argon2id"}, "check mode wrote"

    run = playbook("luks_pbkdf.yml", args)
    assert run.rc == 0, run.stdout
    result = run.task(TASK)
    assert result["changed"] is True and result["converted"] == {volume: ["0"]}
    assert result["unlocked_outside_fips"] == {volume: ["0"]}
    assert kdfs(volume) == {"0": "pbkdf2"}
    rc, out = cryptsetup("--verbose", "open", "--test-passphrase", "--key-file=-", volume,
                         key=b"alpha", tool=fips)
    assert rc == 0 and "Running in FIPS mode." in out, out
    facts = run.task(FACTS)["ansible_facts"]["flatcar_fips"]
    assert facts["luks"]["argon2_keyslots"] == {}
    assert facts["cryptsetup"]["fips_mode"] is True
    assert facts["cryptsetup"]["fips_capable"] is True
    assert "Running in FIPS mode." in facts["cryptsetup"]["evidence"]
    assert "[fips]" in facts["cryptsetup"]["backend"]
    again = playbook("luks_pbkdf.yml", args)
    assert again.rc == 0 and again.task(TASK)["changed"] is False


def test_a_wrong_key_is_still_called_wrong_in_fips_mode(playbook, fips, tmp_path):
    volume = image(str(tmp_path / "elsewhere.img"))
    run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=volume, passphrase="wrong",
                                          cryptsetup=fips))
    assert run.rc != 0
    assert "The key does not open any keyslot" in run.task(TASK)["msg"]
    assert kdfs(volume) == {"0": "argon2id"}


def test_measured_not_inferred(playbook, fips, tmp_path):
    volume = image(str(tmp_path / "v.img"), pbkdf="pbkdf2")
    measured = {}
    for name, tool, env in (("fips", fips, None),
                            ("fips build, stock openssl.cnf", fips, {"OPENSSL_CONF": "/dev/null"}),
                            ("debian", shutil.which("cryptsetup"), None)):
        run = playbook("luks_pbkdf.yml", dict(devices=[volume], cryptsetup=tool,
                                              header_backup_dir=str(tmp_path / "b")), env=env)
        assert run.rc == 0, run.stdout
        measured[name] = run.task(FACTS)["ansible_facts"]["flatcar_fips"]["cryptsetup"]
    assert measured["fips"]["fips_mode"] is True
    off = measured["fips build, stock openssl.cnf"]
    assert off["fips_mode"] is False and off["fips_capable"] is True
    assert "[fips]" not in off["backend"] and "not [fips]" in off["evidence"]
    debian = measured["debian"]
    assert debian["fips_mode"] is False and debian["fips_capable"] is False
    assert "built without FIPS support" in debian["evidence"]
