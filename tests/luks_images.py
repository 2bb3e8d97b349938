# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LUKS image files made with the real cryptsetup (no device-mapper needed for header work)."""

import hashlib
import json
import os
import subprocess

FAST_ARGON = ["--pbkdf-memory", "32", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"]


def cryptsetup(*args, key=None):
    proc = subprocess.run(["cryptsetup", "--batch-mode", *args], input=key, capture_output=True,
                          check=False, timeout=120)
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


def image(path, luks_type="luks2", pbkdf="argon2id", key=b"alpha"):
    with open(path, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    args = ["luksFormat", "--type", luks_type, "--key-file=-"]
    if luks_type == "luks2":
        args += ["--pbkdf", pbkdf]
        args += FAST_ARGON if pbkdf.startswith("argon2") else ["--pbkdf-force-iterations",
                                                               "1000"]
    else:
        args += ["--pbkdf-force-iterations", "1000"]
    rc, out = cryptsetup(*args, path, key=key)
    assert rc == 0, out
    return path


def add_key(path, existing, new, pbkdf="argon2id"):
    key_file = path + ".newkey"
    with open(key_file, "wb") as f:
        f.write(new)
    cost = FAST_ARGON if pbkdf.startswith("argon2") else ["--pbkdf-force-iterations", "1000"]
    rc, out = cryptsetup("luksAddKey", "--pbkdf", pbkdf, *cost, "--key-file=-", path, key_file,
                         key=existing)
    os.unlink(key_file)
    assert rc == 0, out


def kdfs(path):
    rc, out = cryptsetup("luksDump", "--dump-json-metadata", path)
    assert rc == 0, out
    return {slot: data["kdf"]["type"] for slot, data in json.loads(out)["keyslots"].items()}


def opens(path, key, slot=None):
    args = ["open", "--test-passphrase", "--key-file=-", path]
    if slot is not None:
        args[1:1] = ["--key-slot", str(slot)]
    return cryptsetup(*args, key=key)[0] == 0


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
