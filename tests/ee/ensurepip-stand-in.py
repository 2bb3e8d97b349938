# Debian disables ensurepip for its system Python; pip is already installed in the stand-in base
# image (python3-pip), which is all ansible-builder's pip_install step needs to be true.
import importlib.util
import sys

sys.exit(0 if importlib.util.find_spec("pip") else 1)
