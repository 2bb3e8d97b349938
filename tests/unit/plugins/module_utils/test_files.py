# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The line-ending rule every format shares (files.newline), through each parser that uses it:
a writer adds lines with the ending most of the file's lines have."""

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import (
    files,
    grub_cfg,
    openssl_cnf,
    sshd_config,
)


@pytest.mark.parametrize("eols,expected", [
    ([], "\n"),
    (["\n", "\n"], "\n"),
    (["\r\n", "\r\n", "\n"], "\r\n"),
    (["\r\n", "\n"], "\n"),  # a tie keeps LF
    (["\r\n", ""], "\r\n"),  # an unterminated last line does not vote
])
def test_newline(eols, expected):
    assert files.newline(eols) == expected


@pytest.mark.parametrize("text,expected", [
    ("# a\r\n# b\r\n# c", "\r\n"),
    ("# a\r\n# b\n# c\n", "\n"),
    ("# a\n# b\r\n# c\r\n", "\r\n"),
    ("", "\n"),
])
def test_every_format_follows_the_same_rule(text, expected):
    assert grub_cfg.GrubCfg(text).newline == expected
    assert openssl_cnf.OpenSSLCnf(text).newline == expected
    assert sshd_config.ConfigFile("/etc/ssh/sshd_config", text).newline == expected
