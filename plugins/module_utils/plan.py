# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The writers' plans, made where the facts are read: one module round trip for a host that is
already where the role wants it.

:func:`make` runs a writer's own code (``sshd_writer``, ``openssl_writer``, ``kernel_writer``)
in check mode, with the writer's own argument spec, and returns what it would change. There is
no second implementation of any decision: the plan is the writer's check mode, so a plan that
says "nothing to change" is exactly what the writer module would have said.

The facts read and the plans share the commands they run (``commands.share``).

Standard library only: runs on the managed host.
"""

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import (
    files,
    kernel_writer,
    openssl_writer,
    sshd_writer,
)

# layer -> (writer module name, its module_utils)
WRITERS = {
    "sshd": ("sshd_crypto", sshd_writer),
    "openssl": ("openssl_fips", openssl_writer),
    "kernel": ("kernel_args", kernel_writer),
}

# A plan option the caller does not set is what the facts read looked at (fips_facts option ->
# writer option), so that the plan and the facts describe the same files.
SHARED_OPTIONS = {
    "sshd": {"sshd_config": "sshd_config", "sshd": "sshd", "passwd_file": "passwd_file"},
    "openssl": {"openssl_cnf": "openssl_cnf", "fipsmodule_cnf": "fipsmodule_cnf",
                "module": "module", "openssl": "openssl", "system_fips_path": "system_fips_path",
                "update_guard_script": "update_guard_script",
                "update_guard_status_file": "update_guard_status_file",
                "systemd_dir": "systemd_dir"},
    "kernel": {"grub_cfg": "path", "proc_cmdline": "proc_cmdline"},
}


class _PlanModule:
    """The module as a writer sees it while it plans: the writer's own validated options, check
    mode, and warnings kept for the plan's result; everything else is the real module."""

    check_mode = True

    def __init__(self, module, params):
        self._module = module
        self.params = params
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def __getattr__(self, name):
        return getattr(self._module, name)


def options(layer, given, facts_params):
    """The writer options of a plan: ``given``, with what the facts read looked at filled in."""
    merged = dict(given or {})
    for facts_option, writer_option in SHARED_OPTIONS[layer].items():
        if merged.get(writer_option) is None and facts_params.get(facts_option) is not None:
            merged[writer_option] = facts_params[facts_option]
    return merged


def _runner(layer, module):
    """The writer's ``run`` for this layer, on ``module`` (check mode: it changes nothing)."""
    if layer == "sshd":
        return sshd_writer.SshdCrypto(module).run
    if layer == "openssl":
        return openssl_writer.OpenSSLFips(module).run
    return kernel_writer.KernelArgs(module, ch.Changes(module)).run


def make(module, layer, given, facts_params):
    """The plan of one writer: ``changed`` (True, False, or None when the writer would fail:
    ``error`` says why, and the role then runs the writer, which fails with that message),
    ``files`` it would change, its ``warnings``, and for ``kernel`` ``reboot_required``.
    The caller holds the host-wide lock (shared) around the read and every plan."""
    name, util = WRITERS[layer]
    validated = ArgumentSpecValidator(util.argument_spec()).validate(
        options(layer, given, facts_params))
    plan = dict(module=name, changed=None, files=[], warnings=[], error=None)
    if validated.error_messages:
        plan["error"] = "%s options: %s" % (name, "; ".join(validated.error_messages))
        return plan
    proxy = _PlanModule(module, validated.validated_parameters)
    run = _runner(layer, proxy)
    try:
        result = run()
    except (ch.Failure, files.FileError, OSError) as e:
        plan["error"] = ch.cause(e)[0]
        return plan
    finally:
        plan["warnings"] = proxy.warnings
    plan.update(changed=result["changed"], files=result["files_changed"])
    if layer == "kernel":
        plan["reboot_required"] = result["reboot_required"]
    return plan


def read_and_plan(module, read, planned):
    """``read()`` (the facts) and the plan of each layer in ``planned`` (layer -> the writer's
    options), under the host-wide lock, shared: the plans and the read they build on see one
    state, as no writer changes the host meanwhile. Fails the module when the lock is not
    granted in time."""
    lock = None
    try:
        lock = ch.lock_host(False)
        facts = read()
        return facts, {layer: make(module, layer, given, module.params)
                       for layer, given in planned.items()}
    except ch.Failure as e:
        module.fail_json(msg=e.msg)
    finally:
        if lock is not None:
            os.close(lock)
