# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands of one read-only module run (``fips_facts``), shared and counted.

:func:`share` routes ``module.run_command`` through a :class:`Commands`: the same command with
the same arguments, environment and input runs once per module run (every command the facts read
and the writers' plans run is a read-only query, or writes into a scratch directory of its own),
and every program started is counted for the result (``commands``).

Standard library only: runs on the managed host.
"""

import os


class Commands:
    """``module.run_command`` with a memory and a count (see the module docstring)."""

    def __init__(self, run_command):
        self._run = run_command
        self._seen = {}
        self.run = []  # basename of each program actually started, in order
        self.reused = 0

    def __call__(self, args, **kwargs):
        key = repr((list(args) if not isinstance(args, str) else args, sorted(kwargs.items())))
        if key in self._seen:
            self.reused += 1
            return self._seen[key]
        result = self._run(args, **kwargs)
        program = args.split()[0] if isinstance(args, str) else args[0]
        self.run.append(os.path.basename(str(program)))
        self._seen[key] = result
        return result

    def summary(self):
        by_program = {}
        for name in self.run:
            by_program[name] = by_program.get(name, 0) + 1
        return dict(started=len(self.run), reused=self.reused, by_program=by_program)


def share(module):
    """Route every ``module.run_command`` of this run through one :class:`Commands`."""
    commands = Commands(module.run_command)
    module.run_command = commands
    return commands
