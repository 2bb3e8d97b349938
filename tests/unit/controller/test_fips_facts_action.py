# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fips_facts' action builds the module's payload with the cyclic garbage collector paused.

ActionBase._configure_module is replaced here by a stand-in: the real one needs a task, a
connection and a plugin loader (the ad hoc and role runs of the integration tier build the real
payload through this override). What is tested is the collector around it: off during the build,
on afterwards with the build's objects frozen (no collection walks or frees them: the worker
exits after its one task), also when the build fails, and left off, nothing frozen, when it was
off. Each test unfreezes afterwards, as this test process lives on.
"""

import gc
import weakref

import pytest
from ansible.plugins.action import ActionBase

from ansible_collections.flatcar.fips.plugins.action.fips_facts import ActionModule


class Node:
    """A node of a tree that points at its parent, as ansible's import finder leaves them."""


@pytest.fixture
def build(monkeypatch):
    seen = {}

    def fake_configure_module(self, module_name, module_args, task_vars):
        seen["enabled_during_build"] = gc.isenabled()
        parent, child = Node(), Node()
        child.parent, parent.child = parent, child  # a reference cycle, garbage on return
        seen["garbage"] = weakref.ref(parent)
        if module_args.get("fail"):
            raise RuntimeError("build failed")
        return ("payload", module_name)

    monkeypatch.setattr(ActionBase, "_configure_module", fake_configure_module)
    action = ActionModule.__new__(ActionModule)  # no task or connection: only the override runs
    assert gc.get_freeze_count() == 0, "objects left frozen before the test"
    yield action, seen
    gc.unfreeze()
    gc.enable()


def test_collector_paused_during_the_build_and_resumed(build):
    action, seen = build
    assert gc.isenabled()
    assert action._configure_module("flatcar.fips.fips_facts", {}, {}) == (
        "payload", "flatcar.fips.fips_facts")
    assert seen["enabled_during_build"] is False
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert seen["garbage"]() is not None, "the build's reference cycles were not frozen"


def test_collector_resumed_when_the_build_fails(build):
    action, seen = build
    with pytest.raises(RuntimeError, match="build failed"):
        action._configure_module("flatcar.fips.fips_facts", {"fail": True}, {})
    assert seen["enabled_during_build"] is False
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_collector_that_was_off_stays_off(build):
    action, seen = build
    gc.disable()
    action._configure_module("flatcar.fips.fips_facts", {}, {})
    assert seen["enabled_during_build"] is False
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0, "froze objects although the caller had the collector off"
    gc.collect()
    assert seen["garbage"]() is None
