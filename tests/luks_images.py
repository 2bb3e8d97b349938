# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LUKS image files made with the real cryptsetup (no device-mapper needed for header work),
and the FIPS build of cryptsetup (make cryptsetup-fips) as a FIPS host runs it."""

import hashlib
import json
import os
import shutil
import subprocess

import pytest
from openssl_tree import fips_so, fipsinstall

from ansible_collections.flatcar.fips.plugins.module_utils import openssl_cnf as openssl_cnf_util

FAST_ARGON = ["--pbkdf-memory", "32", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"]


def cryptsetup(*args, key=None, tool="cryptsetup", env=None):
    proc = subprocess.run([tool, "--batch-mode", *args], input=key, capture_output=True,
                          check=False, timeout=120, env=env)
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


def fips_cryptsetup(directory, openssl_cnf=None, modules=None):
    """A cryptsetup as it runs on a host: the FIPS build (--enable-fips, OpenSSL 3.5 backend,
    tests/fips/build-cryptsetup-fips.sh) reading the host's openssl.cnf (``openssl_cnf`` and the
    provider directory ``modules`` of a test tree; by default the FIPS configuration as
    openssl_fips writes it, with the real fips.so and fipsmodule.cnf from openssl fipsinstall).

    Only the wiring is test scaffolding: this machine's /etc/ssl/openssl.cnf is not ours to switch,
    so a wrapper gives the build's private libcrypto that configuration (OPENSSL_CONF) and its
    library directory. An OPENSSL_CONF already in the environment wins, as it does for any
    process on a host."""
    build = os.environ.get("FLATCAR_FIPS_CRYPTSETUP_DIR")
    binary = os.path.join(build or "", "root/usr/sbin/cryptsetup")
    if not build or not os.access(binary, os.X_OK):
        pytest.fail("no FIPS build of cryptsetup (FLATCAR_FIPS_CRYPTSETUP_DIR=%s): build it with "
                    "'make cryptsetup-fips' (make test does)" % build)
    libdir = os.path.join(build, "root/usr/lib/flatcar-fips-cryptsetup/lib")
    os.makedirs(directory, exist_ok=True)
    if openssl_cnf is None:
        modules = os.path.join(directory, "ossl-modules")
        os.makedirs(modules, exist_ok=True)
        shutil.copy(fips_so("current"), os.path.join(modules, "fips.so"))
        fipsmodule_cnf = os.path.join(directory, "fipsmodule.cnf")
        fipsinstall(os.path.join(modules, "fips.so"), fipsmodule_cnf)
        # the FIPS configuration as openssl_fips writes it (fips and base, fips=yes)
        cnf = openssl_cnf_util.OpenSSLCnf("")
        openssl_cnf_util.enable_fips(cnf, fipsmodule_cnf)
        openssl_cnf = os.path.join(directory, "openssl.cnf")
        with open(openssl_cnf, "w") as f:
            f.write(cnf.render())
    wrapper = os.path.join(directory, "cryptsetup")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                ": \"${OPENSSL_CONF:=%s}\"\n"
                "export OPENSSL_CONF OPENSSL_MODULES=%s LD_LIBRARY_PATH=%s\n"
                "exec %s \"$@\"\n" % (openssl_cnf, modules, libdir, binary))
    os.chmod(wrapper, 0o755)
    return wrapper


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
