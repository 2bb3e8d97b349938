# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenSSL update guard: a boot-time script and its systemd unit that keep fipsmodule.cnf in
step with fips.so (regenerating it only when fips.so is on dm-verity verified storage).

The script is a real shell file, ``data/fipsmodule-refresh.sh`` (shellcheck checks it in
ansible-test sanity); it reaches the host as ``fips_guard_script.TEXT``, generated from it by
``tools/guard_script.py``, with this host's values written into its settings. Installed on a
running host by ``openssl_fips``; rendered for first boot by the Ignition renderer
(``plugins/plugin_utils/ignition.py``). One text, both ways.
"""

import os
import re
import shlex

from ansible_collections.flatcar.fips.plugins.module_utils.fips_guard_script import TEXT

UNIT_NAME = "flatcar-fips-fipsmodule.service"
# The script's settings, in the order it sets them (one ``NAME=value`` line each).
SETTINGS = ("OPENSSL", "MODULE", "CNF", "STATUS", "ACCEPT_UNVERIFIED")
# What the guard writes first in a fipsmodule.cnf it generates, as openssl_fips does (fipsmodule).
GENERATED_HEADER = TEXT.split("<<'HEADER'\n", 1)[1].split("\nHEADER\n", 1)[0] + "\n"

GUARD_UNIT = """# Installed by flatcar.fips.openssl_fips.
[Unit]
Description=Keep the OpenSSL FIPS module configuration in step with fips.so (flatcar.fips)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target sshd.socket sshd.service shutdown.target
Conflicts=shutdown.target
ConditionPathExists=%(module)s

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(script)s

[Install]
WantedBy=sysinit.target
"""


def script(openssl, module, cnf, status, accept_unverified):
    """The guard script (``data/fipsmodule-refresh.sh``) with these settings."""
    values = dict(zip(SETTINGS, (shlex.quote(openssl), shlex.quote(module), shlex.quote(cnf),
                                 shlex.quote(status), str(int(bool(accept_unverified))))))
    return re.sub(r"^(%s)=.*$" % "|".join(SETTINGS),
                  lambda m: "%s=%s" % (m.group(1), values[m.group(1)]), TEXT, flags=re.M)


def unit(module, script_path):
    """The unit's text: runs ``script_path`` at boot, before sshd, when ``module`` exists."""
    return GUARD_UNIT % dict(module=module, script=script_path)


# --- on a running host (openssl_fips): the guard's files, through changes.Changes ---------------

def paths(script_path, systemd_dir):
    """The guard's three files: the script, the unit, and the link that enables it."""
    unit_path = os.path.join(systemd_dir, UNIT_NAME)
    return script_path, unit_path, os.path.join(systemd_dir, "sysinit.target.wants", UNIT_NAME)


def remove(changes, script_path, systemd_dir):
    """Remove whichever of the guard's files are there (link first); returns them."""
    present = [p for p in reversed(paths(script_path, systemd_dir)) if os.path.lexists(p)]
    for path in present:
        changes.remove(path)
    return present


def install(changes, read, script_path, systemd_dir, script_text, unit_text):
    """Make the guard's files what they should be, enabled; returns whether anything changed.
    ``read(path)`` returns a file's current text (None when it is missing)."""
    _script, unit_path, wants = paths(script_path, systemd_dir)
    changed = False
    for path, content, mode in ((script_path, script_text, 0o755), (unit_path, unit_text, 0o644)):
        current = read(path)
        if current != content:
            changed = True
            changes.diff(path, current, content)
            changes.makedirs(os.path.dirname(path))
            changes.write(path, content, mode=mode)
    if not (os.path.islink(wants) and os.readlink(wants) == unit_path):
        changed = True
        changes.makedirs(os.path.dirname(wants))
        changes.symlink(unit_path, wants)
    return changed
