# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python the modules run under when the tests run them on this machine.

The modules promise Python 3.9 or newer on the host, standard library only (tests/config.yml).
``make`` finds a Python 3.9 (``make target-python``) and passes it as
FLATCAR_FIPS_TARGET_PYTHON, so the integration and fault-injection tiers run every module under
the oldest Python the collection claims, while the controller runs on its own Python; the e2e
tier runs them under the testbed's Python (Debian's). FLATCAR_FIPS_TARGET_LIB holds ansible's
package alone (a link), for a module file run directly as its own process: what AnsiballZ would
ship with it. Without them (pytest run by hand) the modules run under this Python.
"""

import os
import sys

PYTHON = os.environ.get("FLATCAR_FIPS_TARGET_PYTHON") or sys.executable
LIB = os.environ.get("FLATCAR_FIPS_TARGET_LIB") if PYTHON != sys.executable else None


def module_env(env):
    """``env`` for a module file run directly under :data:`PYTHON` (its PYTHONPATH gains
    ansible's package when that Python is not this one)."""
    if not LIB:
        return env
    path = [p for p in (env.get("PYTHONPATH"), LIB) if p]
    return dict(env, PYTHONPATH=os.pathsep.join(path))
