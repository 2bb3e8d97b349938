# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""luks_pbkdf's input rules live in its argument_spec (Ansible's own messages, before the module
does anything). Conversions on real LUKS images: tests/integration/test_luks_pbkdf.py."""

import pytest

from ansible_collections.flatcar.fips.plugins.modules import luks_pbkdf


@pytest.mark.parametrize("args,message", [
    ({"state": "pbkdf2", "key_file": "/k"}, "state is pbkdf2 but all of the following are "
                                            "missing: device"),
    ({"state": "pbkdf2", "device": "/dev/vdb"}, "state is pbkdf2 but any of the following are "
                                                "missing: key_file, passphrase"),
    ({"state": "pbkdf2", "device": "/dev/vdb", "key_file": "/k",
      "passphrase": "not-in-the-message"},
     "parameters are mutually exclusive: key_file|passphrase"),
    ({"iter_time": 2000, "pbkdf_iterations": 1000},
     "parameters are mutually exclusive: iter_time|pbkdf_iterations"),
])
def test_input_rules_are_the_argument_spec(run_module, args, message):
    r = run_module(luks_pbkdf.main, args)
    assert r.get("failed"), r
    assert message in r["msg"], r["msg"]
    assert "changed" not in r or r["changed"] is False


def test_a_failure_after_a_re_run_note_keeps_its_own_message(tmp_path):
    """A re-run whose key already opens a PBKDF2 keyslot returns a note in msg; when removing the
    header backups then fails, the failure carries that result without its msg (a second msg
    made the Failure itself raise TypeError)."""

    class Module:
        check_mode = False

        def __init__(self):
            self.params = dict(header_backup_dir=str(tmp_path), header_backup=None)

    runner = luks_pbkdf.LuksPbkdf(Module(), None)
    runner.device = str(tmp_path / "gone.img")
    with pytest.raises(luks_pbkdf.Failure) as e:
        runner.remove_backups(dict(changed=False, msg="The key opens keyslot 0 ..."))
    assert "cannot be read to prove the key" in e.value.msg
    assert "msg" not in e.value.extra and e.value.extra["changed"] is False
