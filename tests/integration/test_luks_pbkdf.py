# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.luks_pbkdf through a real ansible-playbook and the real cryptsetup, on LUKS
image files made with cryptsetup luksFormat (no device-mapper needed for header work)."""

import os
import stat

import pytest
from luks_images import add_key, digest, image, kdfs, opens

TASK = "Audit or convert LUKS keyslots"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("luks")
    made = dict(
        argon2id=image(str(d / "argon2id.img")),
        argon2i=image(str(d / "argon2i.img"), pbkdf="argon2i"),
        pbkdf2=image(str(d / "pbkdf2.img"), pbkdf="pbkdf2"),
        luks1=image(str(d / "luks1.img"), luks_type="luks1"),
        several=image(str(d / "several.img")),
    )
    add_key(made["several"], b"alpha", b"bravo")
    add_key(made["several"], b"alpha", b"charlie", pbkdf="pbkdf2")
    plain = str(d / "plain.img")
    with open(plain, "wb") as f:
        f.truncate(1024 * 1024)
    made["plain"] = plain
    return made


@pytest.fixture
def fresh(images, tmp_path):
    """A private copy of a prepared image, for tests that change it."""
    def copy(name):
        path = str(tmp_path / os.path.basename(images[name]))
        with open(images[name], "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        return path
    return copy


def test_audit_matches_cryptsetup(playbook, images):
    paths = [images[k] for k in ("argon2id", "argon2i", "pbkdf2", "luks1", "several", "plain")]
    run = playbook("luks_pbkdf.yml", dict(devices=paths))
    assert run.rc == 0, run.stdout
    result = run.task(TASK)
    assert result["changed"] is False
    devices = result["devices"]
    for name in ("argon2id", "argon2i", "pbkdf2", "several"):
        found = {slot: data["kdf"] for slot, data in devices[images[name]]["keyslots"].items()}
        assert found == kdfs(images[name]), name
        assert devices[images[name]]["version"] == 2
    assert devices[images["luks1"]]["version"] == 1
    assert devices[images["luks1"]]["keyslots"]["0"]["kdf"] == "pbkdf2"
    assert result["non_pbkdf2"] == {images["argon2id"]: ["0"], images["argon2i"]: ["0"],
                                    images["several"]: ["0", "1"]}
    assert result["unreadable"] == {images["plain"]: "not a LUKS device"}


def test_convert_with_passphrase(playbook, fresh, tmp_path):
    path = fresh("argon2id")
    backup = str(tmp_path / "backups" / "argon2id.header")
    vars_ = dict(state="pbkdf2", device=path, passphrase="alpha", header_backup=backup,
                 pbkdf_iterations=1000)
    before = digest(path)
    check = playbook("luks_pbkdf.yml", vars_, check=True)
    assert check.rc == 0 and check.task(TASK)["converted"] == {path: ["0"]}
    assert digest(path) == before and not os.path.exists(backup)

    run = playbook("luks_pbkdf.yml", vars_)
    assert run.rc == 0, run.stdout
    result = run.task(TASK)
    assert result["changed"] is True and result["converted"] == {path: ["0"]}
    assert kdfs(path) == {"0": "pbkdf2"}
    assert opens(path, b"alpha")
    assert result["header_backup"] == backup
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert result["non_pbkdf2"] == {}
    # the passphrase never appears in the output
    assert "alpha" not in run.stdout

    again = playbook("luks_pbkdf.yml", vars_)
    assert again.rc == 0 and again.task(TASK)["changed"] is False


def test_convert_with_key_file_and_argon2i(playbook, fresh, tmp_path):
    path = fresh("argon2i")
    key_file = tmp_path / "key"
    key_file.write_bytes(b"alpha")
    run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=path, key_file=str(key_file),
                                          header_backup=str(tmp_path / "h"),
                                          pbkdf_iterations=1000))
    assert run.rc == 0, run.stdout
    assert kdfs(path) == {"0": "pbkdf2"} and opens(path, b"alpha")


def test_several_slots_only_the_ones_the_key_opens(playbook, fresh, tmp_path):
    path = fresh("several")
    vars_ = dict(state="pbkdf2", device=path, passphrase="bravo",
                 header_backup=str(tmp_path / "h"), pbkdf_iterations=1000)
    check = playbook("luks_pbkdf.yml", vars_, check=True)
    run = playbook("luks_pbkdf.yml", vars_)
    assert run.rc == 0, run.stdout
    result = run.task(TASK)
    assert check.task(TASK)["converted"] == result["converted"] == {path: ["1"]}
    assert result["not_opened"] == ["0"]
    assert kdfs(path) == {"0": "argon2id", "1": "pbkdf2", "2": "pbkdf2"}
    assert "still use argon2" in run.stdout + run.stderr  # the warning
    for key, slot in ((b"alpha", 0), (b"bravo", 1), (b"charlie", 2)):
        assert opens(path, key, slot), slot
    # the other key converts the rest
    run = playbook("luks_pbkdf.yml", dict(vars_, passphrase="alpha",
                                          header_backup=str(tmp_path / "h2")))
    assert run.rc == 0 and kdfs(path) == {"0": "pbkdf2", "1": "pbkdf2", "2": "pbkdf2"}
    assert opens(path, b"alpha", 0) and opens(path, b"bravo", 1)


def test_wrong_key_changes_nothing(playbook, fresh, tmp_path):
    path = fresh("argon2id")
    before = digest(path)
    backup = str(tmp_path / "h")
    run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=path, passphrase="wrong",
                                          header_backup=backup, pbkdf_iterations=1000))
    assert run.rc != 0
    msg = run.task(TASK)["msg"]
    assert "does not open any keyslot" in msg and "Nothing was changed" in msg
    assert digest(path) == before and not os.path.exists(backup)


def test_luks1_needs_nothing(playbook, fresh):
    path = fresh("luks1")
    before = digest(path)
    run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=path, passphrase="alpha"))
    assert run.rc == 0
    result = run.task(TASK)
    assert result["changed"] is False and "LUKS1" in result["msg"]
    assert digest(path) == before


def test_not_luks(playbook, images):
    run = playbook("luks_pbkdf.yml", dict(state="pbkdf2", device=images["plain"],
                                          passphrase="alpha"))
    assert run.rc != 0 and "is not a LUKS device" in run.task(TASK)["msg"]


FACTS = "Read the LUKS layer as fips_facts does"


def test_header_backup_lifecycle(playbook, fresh, tmp_path):
    """The backup keeps the argon2 keyslot (and the old passphrase with it): fips_facts says so,
    and remove_header_backups deletes it only once the converted keyslot opens with the key."""
    path = fresh("argon2id")
    backups = tmp_path / "luks-backups"
    base = dict(state="pbkdf2", device=path, passphrase="alpha", pbkdf_iterations=1000,
                header_backup_dir=str(backups))
    run = playbook("luks_pbkdf.yml", base)
    assert run.rc == 0, run.stdout
    backup = run.task(TASK)["header_backup"]
    uuid = run.task(TASK)["devices"][path]["uuid"]
    assert backup == str(backups / ("%s.header" % uuid))
    luks = run.task(FACTS)["ansible_facts"]["flatcar_fips"]["luks"]
    assert luks["header_backups"] == [dict(path=backup, uuid=uuid, device=path, mode="0600",
                                           non_pbkdf2=["0"])]
    assert luks["header_backups_non_pbkdf2"] == {backup: ["0"]}
    assert luks["argon2_keyslots"] == {}, "the device itself is converted"

    # a wrong key proves nothing: the backup stays, with a warning
    wrong = playbook("luks_pbkdf.yml", dict(base, passphrase="wrong", remove_header_backups=True))
    assert wrong.rc != 0 or wrong.task(TASK)["header_backups_removed"] == []
    assert os.path.exists(backup)

    # check mode says what would go, removes nothing
    check = playbook("luks_pbkdf.yml", dict(base, remove_header_backups=True), check=True)
    assert check.rc == 0, check.stdout
    assert check.task(TASK)["header_backups_removed"] == [backup]
    assert check.task(TASK)["changed"] is True
    assert os.path.exists(backup)

    run = playbook("luks_pbkdf.yml", dict(base, remove_header_backups=True))
    assert run.rc == 0, run.stdout
    assert run.task(TASK)["header_backups_removed"] == [backup]
    assert not os.path.exists(backup)
    assert opens(path, b"alpha")
    luks = run.task(FACTS)["ansible_facts"]["flatcar_fips"]["luks"]
    assert luks["header_backups"] == [] and luks["header_backups_non_pbkdf2"] == {}

    again = playbook("luks_pbkdf.yml", dict(base, remove_header_backups=True))
    assert again.rc == 0 and again.task(TASK)["changed"] is False
