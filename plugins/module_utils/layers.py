# -*- coding: utf-8 -*-
# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layers of FIPS mode on Flatcar, named once.

``fips_facts`` gathers the four ``GATHERED`` layers on request (and ``system`` always); the
verdict (``plugin_utils/compliance.py``) and the report judge ``ALL`` of them. A fifth layer is
added here first (docs/architecture.md says what follows).

Standard library only: runs on the managed host (and is imported on the controller).
"""

GATHERED = ("kernel", "openssl", "sshd", "luks")
ALL = ("system", *GATHERED)
# Facts fips_facts reads with a layer (and names its errors after): they are gathered, and read
# again, with it.
READ_WITH = {"openssl": ("system_fips_marker",), "luks": ("cryptsetup",)}
