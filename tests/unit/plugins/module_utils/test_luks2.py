# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LUKS header reader, on headers cryptsetup wrote and on damaged copies of them."""

import json
import struct
import subprocess

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import luks2

ARGON = ["--pbkdf-memory", "32", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"]


def luks_format(path, *args):
    with open(path, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    subprocess.run(["cryptsetup", "--batch-mode", "luksFormat", "--key-file=-", *args, path],
                   input=b"k", check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def luks2_image(tmp_path_factory):
    return luks_format(str(tmp_path_factory.mktemp("l2") / "a.img"), "--type", "luks2",
                       "--pbkdf", "argon2id", *ARGON)


def test_luks2_argon2id(luks2_image):
    header = luks2.read_header(luks2_image)
    assert header["version"] == 2
    assert header["keyslots"]["0"]["kdf"] == "argon2id"
    assert header["keyslots"]["0"]["memory"] == 32
    assert luks2.non_pbkdf2(header) == ["0"]
    dump = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", luks2_image],
                          check=True, capture_output=True, text=True).stdout
    assert {k: v["kdf"]["type"] for k, v in json.loads(dump)["keyslots"].items()} == \
        {k: v["kdf"] for k, v in header["keyslots"].items()}
    uuid = subprocess.run(["cryptsetup", "luksUUID", luks2_image], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert header["uuid"] == uuid


def test_luks1(tmp_path):
    path = luks_format(str(tmp_path / "l1.img"), "--type", "luks1", "--pbkdf-force-iterations",
                       "1000", "--hash", "sha256")
    header = luks2.read_header(path)
    assert header["version"] == 1
    assert header["keyslots"] == {"0": {"kdf": "pbkdf2", "hash": "sha256",
                                        "iterations": 1000}}
    assert luks2.non_pbkdf2(header) == []


def test_not_luks(tmp_path):
    path = tmp_path / "zero.img"
    path.write_bytes(b"\0" * 8192)
    assert luks2.read_header(str(path)) is None
    short = tmp_path / "short"
    short.write_bytes(b"LUK")
    assert luks2.read_header(str(short)) is None


def test_damaged_json_area(luks2_image, tmp_path):
    with open(luks2_image, "rb") as f:
        data = bytearray(f.read(64 * 1024))
    data[4096:4100] = b"{{{{"
    path = tmp_path / "bad.img"
    path.write_bytes(bytes(data))
    with pytest.raises(luks2.LuksError, match="does not parse"):
        luks2.read_header(str(path))


def test_header_size_out_of_range(luks2_image, tmp_path):
    with open(luks2_image, "rb") as f:
        data = bytearray(f.read(8192))
    data[8:16] = struct.pack(">Q", 1 << 40)
    path = tmp_path / "huge.img"
    path.write_bytes(bytes(data))
    with pytest.raises(luks2.LuksError, match="out of range"):
        luks2.read_header(str(path))


def test_unknown_version(tmp_path):
    path = tmp_path / "v9.img"
    path.write_bytes(luks2.MAGIC + struct.pack(">H", 9) + b"\0" * 5000)
    with pytest.raises(luks2.LuksError, match="unknown LUKS version 9"):
        luks2.read_header(str(path))


def test_scan_reports_unreadable(luks2_image, tmp_path):
    found, errors = luks2.scan([luks2_image, str(tmp_path / "missing")])
    assert list(found) == [luks2_image]
    assert list(errors) == [str(tmp_path / "missing")]


def test_block_devices(tmp_path):
    sys_block = tmp_path / "block"
    for name in ("vda", "vda1", "loop0", "ram0", "nvme0n1"):
        (sys_block / name).mkdir(parents=True)
    assert luks2.block_devices(str(sys_block), "/dev") == ["/dev/nvme0n1", "/dev/vda",
                                                           "/dev/vda1"]
    assert luks2.block_devices(str(tmp_path / "none")) == []
