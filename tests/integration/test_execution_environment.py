# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment for AWX / Ansible Automation Platform
(extensions/ee/execution-environment.yml), with the real ansible-builder: `create` makes a
build context from it and the collection tarball, and the collection declares its own
dependencies (meta/execution-environment.yml) the way ansible-builder's introspection finds
them at build time. Building the image itself needs a base image from a registry, which this
machine cannot reach (README: Running it on a fleet; the closing note of issue 17)."""

import hashlib
import os
import re
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EE_DIR = os.path.join(ROOT, "extensions", "ee")


def run(args, env, cwd=None):
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                          timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The collection tarball as `ansible-galaxy collection build` makes it, next to a copy of
    the EE definition (as the README's two commands lay it out)."""
    if not shutil.which("ansible-builder"):
        pytest.fail("ansible-builder is not installed (requirements-dev.txt; make setup)")
    tmp = tmp_path_factory.mktemp("ee")
    ee = tmp / "ee"
    ee.mkdir()
    shutil.copy(os.path.join(EE_DIR, "execution-environment.yml"), ee)
    env = dict(os.environ)
    run(["ansible-galaxy", "collection", "build", "--output-path", str(ee / "collections"), ROOT],
        env)
    return tmp, ee, env


def test_create_makes_a_build_context(built):
    tmp, ee, env = built
    with open(os.path.join(ROOT, "galaxy.yml")) as f:
        version = yaml.safe_load(f)["version"]
    tarball = ee / "collections" / ("flatcar-fips-%s.tar.gz" % version)
    assert tarball.is_file()
    context = tmp / "context"
    out = run(["ansible-builder", "create", "-f", str(ee / "execution-environment.yml"),
               "-c", str(context), "--output-filename", "Containerfile"], env)
    assert "Complete! The build context can be found at: %s" % context in out
    containerfile = (context / "Containerfile").read_text()
    # ansible-core as tested (the pin of requirements-dev.txt, what meta/runtime.yml claims)
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        core = re.search(r"^ansible-core==(\S+)", f.read(), re.M).group(1)
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        claimed = yaml.safe_load(f)["requires_ansible"]
    assert claimed == ">=%s" % ".".join([*core.split(".")[:2], "0"])
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s ansible-runner==' % core in containerfile
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in containerfile
    # the tarball is in the context byte for byte, and the galaxy stage installs it from there
    copied = context / "_build" / "flatcar-fips-collections" / tarball.name
    assert sha256(copied) == sha256(tarball)
    assert "COPY _build/flatcar-fips-collections/ /tmp/flatcar-fips-collections/" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [
        {"name": "/tmp/flatcar-fips-collections/" + tarball.name, "type": "file"}]}
    galaxy = containerfile.index("FROM base AS galaxy")
    assert containerfile.index("COPY _build/flatcar-fips-collections/", galaxy) < \
        containerfile.index("ansible-galaxy collection install", galaxy)
    # the builder stage finds the collection's own dependencies (next test) and installs them
    assert "introspect.py introspect --write-bindep=/tmp/src/bindep.txt" in containerfile
    assert "/output/scripts/install-from-bindep" in containerfile


def test_the_collection_declares_its_dependencies_for_introspection(built):
    """What the image's builder stage does: install the tarball, then introspect."""
    tmp, ee, env = built
    tarball = next((ee / "collections").glob("flatcar-fips-*.tar.gz"))
    collections = tmp / "installed"
    run(["ansible-galaxy", "collection", "install", "--force", "-p", str(collections),
         str(tarball)], env)
    out = run(["ansible-builder", "introspect", "--sanitize", str(collections)], env)
    deps = yaml.safe_load(out)
    assert deps["python"] == ["jmespath>=1.0  # from collection flatcar.fips"]
    assert deps["system"] == ["openssh-clients [platform:rpm]  # from collection flatcar.fips",
                              "openssh-client [platform:dpkg]  # from collection flatcar.fips"]
    # and they are what the controller side really imports
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        assert re.search(r"^jmespath==", f.read(), re.M)
