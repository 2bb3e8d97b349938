#!/usr/bin/env python
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate plugins/module_utils/fips_guard_script.py from data/fipsmodule-refresh.sh.

The OpenSSL update guard is a real shell script, data/fipsmodule-refresh.sh, which shellcheck
checks (ansible-test sanity). AnsiballZ ships only Python module_utils to a host, so the script
travels there as a string in a generated module; edit the script, never the module:

    python3 tools/guard_script.py           # rewrite the module from the script
    python3 tools/guard_script.py --check   # exit 1 when the module is stale (make test runs it)
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "data", "fipsmodule-refresh.sh")
MODULE = os.path.join(ROOT, "plugins", "module_utils", "fips_guard_script.py")

HEADER = '''\
# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Generated from data/fipsmodule-refresh.sh by tools/guard_script.py: edit the script, then run
# `python3 tools/guard_script.py` (the unit tests fail while the two differ).
"""The OpenSSL update guard script, byte for byte as data/fipsmodule-refresh.sh holds it (with
Flatcar's paths in its settings; ``fips_guard.script`` writes a host's values in their place)."""

'''


def render(text):
    if "'''" in text or not text.endswith("\n"):
        raise ValueError("%s: cannot be held in a raw ''' string (no ''', end with a newline)"
                         % SCRIPT)
    return HEADER + "TEXT = r'''" + text + "'''\n"


def main(argv):
    with open(SCRIPT, encoding="utf-8") as f:
        wanted = render(f.read())
    current = None
    if os.path.exists(MODULE):
        with open(MODULE, encoding="utf-8") as f:
            current = f.read()
    if current == wanted:
        return 0
    if "--check" in argv:
        sys.stderr.write("%s is stale: run python3 tools/guard_script.py after editing %s\n"
                         % (os.path.relpath(MODULE, ROOT), os.path.relpath(SCRIPT, ROOT)))
        return 1
    with open(MODULE, "w", encoding="utf-8") as f:
        f.write(wanted)
    print("wrote %s" % os.path.relpath(MODULE, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
