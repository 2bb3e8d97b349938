"""Offline stand-in for the ``get-pip.py`` script that ``ansible-test`` downloads.

``ansible-test`` bootstraps pip into each of its virtual environments by downloading
``get-pip-<version>.py`` from a host that the development and CI machines cannot reach.
It first looks in ``~/.ansible/test/cache/get_pip_<version>.py``; ``make`` installs this file
there. It does what get-pip does, from what is available offline:

1. ``python -m ensurepip --upgrade --default-pip`` in a *subprocess* (running ensurepip
   in-process drops pip's CA and index settings for the following install);
2. ``python -m pip install <arguments>``, with the get-pip-only options removed.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                          stdout=subprocess.DEVNULL)
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main()
