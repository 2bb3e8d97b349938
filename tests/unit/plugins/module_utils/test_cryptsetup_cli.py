# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cryptsetup_cli reads what cryptsetup says about itself. The texts below are real outputs:
Debian 12's cryptsetup 2.6.1 and the FIPS build of 2.7.5 (tests/fips/build-cryptsetup-fips.sh)
with and without the FIPS openssl.cnf. mode() itself runs the real cryptsetup in
tests/integration/test_cryptsetup_fips.py; here, the parsing, and mode() with Debian's binary."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import cryptsetup_cli

DEBIAN_VERSION = "cryptsetup 2.6.1 flags: UDEV BLKID KEYRING KERNEL_CAPI \n"
FIPS_VERSION = "cryptsetup 2.7.5 flags: UDEV BLKID KEYRING FIPS KERNEL_CAPI \n"
OLD_VERSION = "cryptsetup 2.3.7\n"

FIPS_DEBUG = """\
# cryptsetup 2.7.5 processing "cryptsetup --debug --verbose isLuks /tmp/empty"
# Initialising device-mapper backend library.
Running in FIPS mode.
# Crypto backend (OpenSSL 3.5.7 9 Jun 2026 [fips][threads][argon2]) initialized in cryptsetup \
library version 2.7.5.
# Releasing device-mapper backend.
"""
DEFAULT_DEBUG = """\
# cryptsetup 2.7.5 processing "cryptsetup --debug --verbose isLuks /tmp/empty"
# Initialising device-mapper backend library.
# Crypto backend (OpenSSL 3.5.7 9 Jun 2026 [default][threads][argon2]) initialized in cryptsetup \
library version 2.7.5.
# Releasing device-mapper backend.
"""
NO_BACKEND = """\
# cryptsetup 2.6.1 processing "cryptsetup --debug --verbose isLuks /dev/null"
# Trying to open device /dev/null without direct-io.
Command failed with code -4 (wrong device or file specified).
"""


def test_version_and_flags():
    assert cryptsetup_cli.parse_version(DEBIAN_VERSION) == (
        "2.6.1", ["UDEV", "BLKID", "KEYRING", "KERNEL_CAPI"])
    assert "FIPS" in cryptsetup_cli.parse_version(FIPS_VERSION)[1]
    assert cryptsetup_cli.parse_version(OLD_VERSION) == ("2.3.7", None)  # no flags printed
    assert cryptsetup_cli.parse_version("cryptsetup: command not found") == (None, None)


@pytest.mark.parametrize(("text", "expected"), [
    (FIPS_DEBUG, (True, "OpenSSL 3.5.7 9 Jun 2026 [fips][threads][argon2]")),
    (DEFAULT_DEBUG, (False, "OpenSSL 3.5.7 9 Jun 2026 [default][threads][argon2]")),
    ("Running in FIPS mode.\n", (True, None)),  # --verbose without --debug
    (NO_BACKEND, (None, None)),  # said nothing either way: unknown, never a pass
    ("", (None, None)),
])
def test_debug_output(text, expected):
    assert cryptsetup_cli.parse_debug(text) == expected


class Runner:
    """Runs commands for real, as AnsibleModule.run_command does (no shell)."""

    def run_command(self, args):
        proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr


def test_mode_of_a_build_without_fips_support(tmp_path):
    tool = shutil.which("cryptsetup") or "/usr/sbin/cryptsetup"
    facts = cryptsetup_cli.mode(Runner(), tool, scratch_dir=str(tmp_path))
    assert facts["fips_capable"] is False and facts["fips_mode"] is False
    assert "built without FIPS support" in facts["evidence"]
    assert os.listdir(str(tmp_path)) == []  # no scratch file was needed, none is left


def test_mode_when_cryptsetup_cannot_run(tmp_path):
    broken = tmp_path / "cryptsetup"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    broken.chmod(0o755)
    facts = cryptsetup_cli.mode(Runner(), str(broken), scratch_dir=str(tmp_path))
    assert facts["fips_mode"] is None and facts["version"] is None
    assert "error while loading shared libraries" in facts["reason"]


def test_mode_when_a_fips_build_says_nothing(tmp_path):
    # a FIPS-capable cryptsetup whose crypto backend never initialised: unknown, with the reason;
    # the scratch file is removed
    quiet = tmp_path / "bin" / "cryptsetup"
    quiet.parent.mkdir()
    quiet.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo '%s'; exit 0; }\n"
                     "echo 'Cannot initialize crypto backend.' >&2\nexit 1\n"
                     % FIPS_VERSION.strip())
    quiet.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    facts = cryptsetup_cli.mode(Runner(), str(quiet), scratch_dir=str(scratch))
    assert facts["fips_capable"] is True and facts["fips_mode"] is None
    assert "Cannot initialize crypto backend." in facts["reason"]
    assert os.listdir(str(scratch)) == []
