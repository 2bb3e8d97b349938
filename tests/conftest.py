# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the collection importable and visible to Ansible as flatcar.fips.

``make`` exports ANSIBLE_COLLECTIONS_PATH/PYTHONPATH pointing at a directory where
``ansible_collections/flatcar/fips`` links to this checkout. When pytest is run directly,
build the same link in a temp dir so that ``pytest tests/unit`` also works on its own.
"""

import os
import sys
import tempfile

import pytest
from openssl_tree import make_lts, make_stable
from sshd_layouts import Keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_root():
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        link = os.path.join(entry, "ansible_collections", "flatcar", "fips")
        if entry and os.path.realpath(link) == ROOT:
            return entry
    entry = tempfile.mkdtemp(prefix="flatcar-fips-collections-")
    os.makedirs(os.path.join(entry, "ansible_collections", "flatcar"))
    os.symlink(ROOT, os.path.join(entry, "ansible_collections", "flatcar", "fips"))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = entry
    return entry


COLLECTIONS_ROOT = _collections_root()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """SSH host and client keys, generated once per session (see sshd_layouts)."""
    return Keys(str(tmp_path_factory.mktemp("keys")))


@pytest.fixture
def stable(tmp_path):
    """An OpenSSL tree shaped like Flatcar stable (see openssl_tree.make_stable)."""
    return make_stable(str(tmp_path / "root"))


@pytest.fixture
def lts(tmp_path):
    """An OpenSSL tree shaped like Flatcar LTS (see openssl_tree.make_lts)."""
    return make_lts(str(tmp_path / "root"))
