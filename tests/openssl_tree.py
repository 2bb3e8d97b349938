# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSL trees shaped like Flatcar's, with a real fips.so built by 'make fips-so'."""

import hashlib
import os
import shutil
import stat
import subprocess

import pytest

STOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "openssl.cnf.flatcar")


def fips_so(kind):
    base = os.environ.get("FLATCAR_FIPS_SO_DIR",
                          os.path.expanduser("~/.cache/flatcar-fips/fips-so"))
    path = os.path.join(base, kind, "fips.so")
    if not os.path.isfile(path):
        pytest.fail("no %s fips.so at %s: build it with 'make fips-so' (make test does)"
                    % (kind, path))
    return path


def openssl(args, conf, modules, data=b""):
    env = dict(os.environ, OPENSSL_CONF=conf, OPENSSL_MODULES=modules)
    return subprocess.run(["openssl", *args], env=env, input=data, capture_output=True,
                          check=False, timeout=120)


def fipsinstall(module, out):
    env = dict(os.environ, OPENSSL_CONF=os.devnull)
    subprocess.run(["openssl", "fipsinstall", "-module", module, "-out", out], env=env,
                   capture_output=True, check=True, timeout=120)


def snapshot(root):
    """Everything under root: files by content and mode, symlinks by target."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir",)
            else:
                with open(path, "rb") as f:
                    state[rel] = ("file", hashlib.sha256(f.read()).hexdigest(),
                                  stat.S_IMODE(st.st_mode))
    return state


class Tree:
    def __init__(self, root):
        self.root = root
        self.modules = os.path.join(root, "usr/lib64/ossl-modules")
        self.module = os.path.join(self.modules, "fips.so")
        self.ssl = os.path.join(root, "etc/ssl")
        self.openssl_cnf = os.path.join(self.ssl, "openssl.cnf")
        self.fipsmodule_cnf = os.path.join(self.ssl, "fipsmodule.cnf")
        self.guard = os.path.join(root, "etc/flatcar-fips/fipsmodule-refresh")
        self.unit = os.path.join(root, "etc/systemd/system/flatcar-fips-fipsmodule.service")
        self.wants = os.path.join(root, "etc/systemd/system/sysinit.target.wants",
                                  "flatcar-fips-fipsmodule.service")
        os.makedirs(self.modules)
        os.makedirs(self.ssl)
        shutil.copy(fips_so("current"), self.module)

    @property
    def env(self):
        return dict(OPENSSL_MODULES=self.modules)

    def vars(self, **extra):
        return dict(root=self.root, **extra)

    def openssl(self, *args, data=b""):
        return openssl(list(args), self.openssl_cnf, self.modules, data)

    def assert_fips_active(self, version=None):
        """What Flatcar's kola misc.fips test checks, under the tree's live openssl.cnf."""
        listed = self.openssl("list", "-providers")
        assert listed.returncode == 0, listed.stderr
        text = listed.stdout.decode()
        assert "OpenSSL FIPS Provider" in text and "status: active" in text, text
        fips_block = text[text.index("fips"):]
        assert "status: active" in fips_block
        if version:
            assert "version: %s" % version in fips_block, text
        assert "default" not in text.split("fips")[0], "the default provider is loaded"
        assert self.openssl("dgst", "-md5").returncode != 0, "md5 works: not in FIPS mode"
        assert self.openssl("dgst", "-sha256").returncode == 0
        assert self.openssl("sha512").returncode == 0

    def swap_module(self, kind):
        """An OS update ships another fips.so (a different OpenSSL 3.0.x build)."""
        shutil.copy(fips_so(kind), self.module)


def make_stable(root):
    """Flatcar stable: regular openssl.cnf, fipsmodule.cnf shipped (generated at image build)."""
    tree = Tree(root)
    shutil.copy(STOCK, tree.openssl_cnf)
    fipsinstall(tree.module, tree.fipsmodule_cnf)
    os.makedirs(os.path.join(tree.root, "usr/share/flatcar/etc/ssl"))
    shutil.copy(STOCK, os.path.join(tree.root, "usr/share/flatcar/etc/ssl/openssl.cnf"))
    return tree


def make_lts(root):
    """Flatcar LTS: openssl.cnf a symlink into read-only /usr, no fipsmodule.cnf shipped."""
    tree = Tree(root)
    usr_ssl = os.path.join(tree.root, "usr/share/ssl")
    os.makedirs(usr_ssl)
    shutil.copy(STOCK, os.path.join(usr_ssl, "openssl.cnf"))
    os.chmod(usr_ssl, 0o555)  # read-only, as /usr is (root ignores it: the tests compare content)
    os.symlink("../../usr/share/ssl/openssl.cnf", tree.openssl_cnf)
    return tree
