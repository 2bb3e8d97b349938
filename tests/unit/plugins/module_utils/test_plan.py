# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan.read_and_plan: the facts read and the plans under the host-wide lock, shared.

The plans themselves (each writer's check mode) are tested with the real writers by the
integration tier (tests/integration/test_fips_facts.py); here the lock around them, with a real
lock file in a tmp dir.
"""

import os

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import plan


class FailingModule:
    def __init__(self):
        self.params = {}

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)


@pytest.fixture
def lock_path(monkeypatch, tmp_path):
    monkeypatch.setattr(ch, "LOCK_PATHS", (str(tmp_path / "flatcar-fips.lock"),))
    monkeypatch.setattr(ch, "LOCK_TIMEOUT", 0.3)
    return tmp_path / "flatcar-fips.lock"


def test_the_read_holds_the_lock_shared_and_releases_it(lock_path):
    seen = {}

    def read():
        with pytest.raises(ch.Failure):
            ch.lock_host(True, timeout=0.2)  # a writer waits for the read
        reader = ch.lock_host(False, timeout=0.2)  # another read does not
        os.close(reader)
        seen["read"] = True
        return {"gathered": []}

    assert plan.read_and_plan(FailingModule(), read, {}) == ({"gathered": []}, {})
    assert seen == {"read": True}
    os.close(ch.lock_host(True, timeout=0.2))  # released: a writer gets it at once


def test_a_writer_holding_the_lock_fails_the_read_before_it_starts(lock_path):
    writer = ch.lock_host(True)
    module = FailingModule()
    try:
        with pytest.raises(SystemExit):
            plan.read_and_plan(module, lambda: pytest.fail("read while a writer held the lock"),
                               {"sshd": {}})
    finally:
        os.close(writer)
    assert "Another flatcar.fips task" in module.failed["msg"]
    assert str(lock_path) in module.failed["msg"]
