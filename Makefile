# flatcar.fips: set up, test and demo from a fresh Debian 12 machine.
#
#   make test    every test tier (static, unit, integration; end to end once the testbed lands)
#   make demo    the main job: a Flatcar-like VM switched into FIPS mode and verified
#
# Slow things are cached outside the clone, in $(CACHE): the virtualenv (keyed by a hash of
# requirements-dev.txt and the Python version) and, later, fips.so builds and VM images.
# $(BUILD) holds per-clone scratch: the collection as Ansible sees it
# (.../ansible_collections/flatcar/fips) and the copy that ansible-test sanity runs on.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
CACHE ?= $(HOME)/.cache/flatcar-fips
BUILD ?= /tmp/flatcar-fips-build-$(shell printf %s "$(CURDIR)" | sha256sum | cut -c1-12)

PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
REQ_HASH := $(shell cat requirements-dev.txt | sha256sum | cut -c1-12)
VENV := $(CACHE)/venv-py$(PYVER)-$(REQ_HASH)
BIN := $(VENV)/bin
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/flatcar/fips
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/flatcar/fips

# Debian packages the tests use: grub-script-check (grub-common); openssl, and what building
# fips.so from Debian's openssl source needs (gcc, make, perl); sshd and ssh for the sshd tests
# (the tests start their own sshd on 127.0.0.1; the package's service is kept from starting);
# cryptsetup for the LUKS tests on image files; chromium (and a font) to open the HTML report
# in a real browser; ignition (ignition-validate, and the Ignition binary that applies rendered
# configs in the tests, with setfiles from policycoreutils, which Debian's Ignition relabels with).
APT_PACKAGES := grub-common openssl gcc make perl openssh-server openssh-client cryptsetup-bin shellcheck systemd \
                chromium fonts-dejavu-core ignition policycoreutils
FIPS_SO_DIR := $(CACHE)/fips-so
# cryptsetup built in FIPS mode as Flatcar's (tests/fips/build-cryptsetup-fips.sh): the VM image
# installs it; the integration tests run it with a FIPS openssl.cnf. Cached by versions; current
# is the build in use.
CRYPTSETUP_FIPS_CACHE := $(CACHE)/cryptsetup-fips
CRYPTSETUP_FIPS_DIR := $(CRYPTSETUP_FIPS_CACHE)/current
# The VM testbed (tests/testbed): qemu under TCG, UEFI firmware, GRUB, image assembly tools, and
# real Ignition (with setfiles, which it relabels with) for the images provisioned by a config;
# podman and runc to build the execution environment (tests/ee/build-ee.sh).
TESTBED_PACKAGES := qemu-system-x86 qemu-utils mmdebstrap ovmf grub-efi-amd64-bin grub-common \
                    dosfstools gdisk mtools e2fsprogs openssh-client cryptsetup-bin openssl \
                    squashfs-tools ignition policycoreutils podman runc netavark iptables
TESTBED_CACHE := $(CACHE)/testbed

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
export FLATCAR_FIPS_SO_DIR := $(FIPS_SO_DIR)
export FLATCAR_FIPS_CRYPTSETUP_DIR := $(CRYPTSETUP_FIPS_DIR)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0

.PHONY: help setup apt venv collection target-python ansible-test-offline fips-so cryptsetup-fips test static sanity lint ruff \
        changelog-lint docs-lint units integration faults e2e demo testbed-deps docs bench bench-host bench-vm bench-then bench-plot clean

help:
	@echo "make test   - set up everything and run every test tier"
	@echo "make demo   - a Flatcar-like VM switched into FIPS mode and verified"
	@echo "make setup  - only install: apt packages, virtualenv, collection path"

setup: apt venv collection ansible-test-offline fips-so cryptsetup-fips

# --- installation ---------------------------------------------------------------------------

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "ERROR: need root to install$$missing" >&2; exit 1; fi; \
	  apt-get update -qq; \
	  created_policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created_policy=1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { [ -z "$$created_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }; \
	  [ -z "$$created_policy" ] || rm -f /usr/sbin/policy-rc.d; \
	fi

venv: $(VENV)/.installed

# The path carries a hash of requirements-dev.txt, so a change makes a new virtualenv; no
# dependency on the file's mtime (a fresh clone would rebuild it for nothing).
$(VENV)/.installed:
	@echo "Creating virtualenv $(VENV)"
	rm -rf "$(VENV)"
	$(PYTHON) -m venv "$(VENV)"
	"$(BIN)/pip" install -q --disable-pip-version-check --upgrade pip
	"$(BIN)/pip" install -q --disable-pip-version-check -r requirements-dev.txt
	touch "$@"

# The oldest Python the modules claim on the host (tests/config.yml: python_requires >=3.9).
# The integration and fault-injection tiers run every module under it and the target-side unit
# tests run under it too (tests/target_python.py); the e2e tier runs the modules under the
# testbed's own Python. Found on PATH or in pyenv's versions; TARGET_PYTHON=... names another.
TARGET_PYVER := 3.9
comma := ,
ifndef TARGET_PYTHON
TARGET_PYTHON := $(shell for p in $$(command -v python$(TARGET_PYVER)) \
    $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(TARGET_PYVER).*/bin/python$(TARGET_PYVER) \
    /root/.pyenv/versions/$(TARGET_PYVER).*/bin/python$(TARGET_PYVER); do \
  [ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(TARGET_PYVER))))' \
    2>/dev/null && { echo "$$p"; break; }; done)
endif
TARGET_LIB := $(BUILD)/target-lib
TARGET_VENV := $(CACHE)/venv-target-py$(TARGET_PYVER)-$(shell cat tests/requirements-target-python.txt | sha256sum | cut -c1-12)
TARGET_ENV := FLATCAR_FIPS_TARGET_PYTHON="$(TARGET_PYTHON)" FLATCAR_FIPS_TARGET_LIB="$(TARGET_LIB)"

target-python: setup
	@if [ -z "$(TARGET_PYTHON)" ]; then \
	  echo "ERROR: no Python $(TARGET_PYVER) found (PATH, \$$PYENV_ROOT/versions, ~/.pyenv/versions):" \
	    "the tests run the modules under the oldest Python they claim; install one" \
	    "(pyenv install $(TARGET_PYVER)) or name it with TARGET_PYTHON=/path/to/python$(TARGET_PYVER)" >&2; exit 1; fi
	@mkdir -p "$(TARGET_LIB)"
	@ln -sfn "$$(python -c 'import ansible, os; print(os.path.dirname(ansible.__file__))')" "$(TARGET_LIB)/ansible"
	@test -f "$(TARGET_VENV)/.installed" || { rm -rf "$(TARGET_VENV)" && \
	  "$(TARGET_PYTHON)" -m venv "$(TARGET_VENV)" && \
	  "$(TARGET_VENV)/bin/pip" install -q --disable-pip-version-check -r tests/requirements-target-python.txt && \
	  touch "$(TARGET_VENV)/.installed"; }
	@echo "modules run under $(TARGET_PYTHON) ($$("$(TARGET_PYTHON)" -V 2>&1)) in the integration and fault tiers"

collection:
	@mkdir -p "$(dir $(COLLECTION_LINK))"
	@ln -sfn "$(CURDIR)" "$(COLLECTION_LINK)"

# Real OpenSSL FIPS providers built from Debian's openssl sources: $(FIPS_SO_DIR)/current and
# $(FIPS_SO_DIR)/update (another version: "the OS update replaced fips.so"). Cached by version.
fips-so: apt
	@if [ -s "$(FIPS_SO_DIR)/current/fips.so" ] && [ -s "$(FIPS_SO_DIR)/update/fips.so" ]; then \
	  echo "fips.so cached: $$(cat $(FIPS_SO_DIR)/current/VERSION), $$(cat $(FIPS_SO_DIR)/update/VERSION)"; \
	else bash tests/fips/build-fips-so.sh "$(FIPS_SO_DIR)"; fi

# cryptsetup 2.7+ with --enable-fips and a private OpenSSL 3.5 (Debian trixie source packages, as
# Flatcar pairs them), built once (about 10 minutes on 2 cores) and cached.
cryptsetup-fips: apt
	@if [ -x "$(CRYPTSETUP_FIPS_DIR)/root/usr/sbin/cryptsetup" ] && [ -s "$(CRYPTSETUP_FIPS_DIR)/BUILDINFO" ]; then \
	  echo "cryptsetup FIPS build cached: $$(sed -n 's/^cryptsetup --version: //p' "$(CRYPTSETUP_FIPS_DIR)/BUILDINFO")"; \
	else \
	  mkdir -p "$(CRYPTSETUP_FIPS_CACHE)"; \
	  out=$$(bash tests/fips/build-cryptsetup-fips.sh "$(CRYPTSETUP_FIPS_CACHE)"); \
	  ln -sfn "$$(basename "$$out")" "$(CRYPTSETUP_FIPS_DIR)"; \
	fi

# ansible-test bootstraps pip in its virtualenvs from a host we cannot reach; it looks in its
# cache first. Install the offline stand-in under the name of the pip version it wants.
ansible-test-offline: venv
	@v=$$("$(BIN)/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages; import types; print(get_venv_packages(types.SimpleNamespace(version="$(PYVER)"))["pip"])'); \
	mkdir -p "$(HOME)/.ansible/test/cache"; \
	install -m 0644 tools/get_pip_standin.py "$(HOME)/.ansible/test/cache/get_pip_$${v//./_}.py"

# --- tests ----------------------------------------------------------------------------------

test: setup
	$(MAKE) --no-print-directory static
	$(MAKE) --no-print-directory units
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory faults
	$(MAKE) --no-print-directory e2e
	@echo "make test: all tiers passed"

static: sanity lint ruff changelog-lint docs-lint

# ansible-test needs the collection under .../ansible_collections/flatcar/fips and checks
# what git tracks; copy the tracked and new (not ignored) files there.
sanity: setup
	rm -rf "$(SANITY_ROOT)"
	mkdir -p "$(SANITY_ROOT)"
	git ls-files -z --cached --others --exclude-standard | \
	  while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done | \
	  tar --null -T - -cf - | tar -xf - -C "$(SANITY_ROOT)"
	cd "$(SANITY_ROOT)" && ansible-test sanity --python $(PYVER) --color no --venv
	@if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then \
	  echo "ERROR: sanity ignore files are not allowed: fix the findings instead" >&2; exit 1; fi

lint: setup
	ansible-lint --offline --profile production --strict

ruff: venv
	ruff check --output-format concise .

changelog-lint: venv
	antsibull-changelog lint

# The ecosystem's own documentation linter on every plugin's docs (markup, references such as
# P(flatcar.fips.fips_mode#role), option names), on the collection as Ansible sees it.
docs-lint: setup
	cd "$(COLLECTION_LINK)" && antsibull-docs lint-collection-docs --plugin-docs .

# Target-side code (modules, module_utils) and controller-side code (filters) in separate
# processes, as they run: importing controller packages changes how module warnings are kept.
units: setup target-python
	pytest -q tests/unit --ignore=tests/unit/controller
	pytest -q tests/unit/controller
	PYTHONPYCACHEPREFIX="$(BUILD)/pycache-target" "$(TARGET_PYTHON)" -m compileall -q plugins/modules plugins/module_utils
	PYTHONPATH="$(COLLECTIONS):$(TARGET_LIB)" "$(TARGET_VENV)/bin/python" -m pytest -q -p no:cacheprovider \
	  tests/unit --ignore=tests/unit/controller

integration: setup target-python
	$(TARGET_ENV) pytest -q tests/integration

# Fault injection (tests/faults): the modules against FIFOs, devices, bad bytes, full and
# read-only file systems, failures halfway, concurrent runs and kill -9. Real mounts: run as
# root in a private mount namespace, so that nothing it mounts outlives it.
faults: setup target-python
	$(TARGET_ENV) unshare --mount --propagation private pytest -q tests/faults

# End-to-end tier: Flatcar-like VMs (tests/testbed) under qemu/TCG, both variants: the layout
# is checked, the collection converges the VM into FIPS mode, a second converge changes nothing,
# and the rebooted VM is verified from inside and outside.
# Molecule scenarios live in extensions/molecule (default = stable layout, lts = legacy layout,
# lockout = hostile starting points, then the reboot left to a coordinator (kured's sentinel),
# ignition = two VMs provisioned only by real Ignition, with the rendered config and with the
# guide's, rollout = two VMs rebooted one at a time between drain and uncordon, behind a health
# gate, and the report run from the execution environment built with ansible-builder and
# podman). Five scenarios in two lanes side by side (tests/testbed/molecule-lanes.sh): each lane
# boots single-vCPU VMs, one scenario at a time. Each scenario's output and duration is printed.
E2E_LANE_A := default rollout
E2E_LANE_B := lts lockout ignition
e2e: setup testbed-deps fips-so
	TESTBED_CACHE="$(TESTBED_CACHE)" bash tests/testbed/molecule-lanes.sh "$(BUILD)/e2e" \
	  "$(E2E_LANE_A)" "$(E2E_LANE_B)"

# The main job, with the default Molecule scenario's steps (tests/testbed/molecule-demo.sh).
demo: setup testbed-deps
	@start=$$(date +%s); \
	TESTBED_CACHE="$(TESTBED_CACHE)" bash tests/testbed/molecule-demo.sh; \
	echo "make demo: done in $$(( $$(date +%s) - start ))s"

testbed-deps:
	@$(MAKE) --no-print-directory apt APT_PACKAGES="$(TESTBED_PACKAGES)"

# Benchmarks (not tests): results are recorded in docs/benchmarks.md. bench-vm boots two testbed
# VMs (extensions/molecule/bench, about 20 minutes); the plot needs matplotlib, in a virtualenv
# of its own (bench/requirements-plot.txt), cached like the main one.
PLOT_VENV := $(CACHE)/plot-venv-$(shell cat bench/requirements-plot.txt | sha256sum | cut -c1-12)

bench: bench-host bench-vm bench-plot

bench-host: setup
	python bench/fips_facts_walltime.py 20
	python bench/report_from_cache.py 100 1000
	python bench/fleet_verdict.py 100 300

bench-vm: setup testbed-deps fips-so
	TESTBED_CACHE="$(TESTBED_CACHE)" bash bench/vm_bench.sh

# The role now against the collection as of THEN (default: the commit before the plan landed,
# when a converged host cost four round trips): a host that needs every layer and a converged
# one, on two fresh VMs side by side, twice with the VMs exchanged. Not part of make bench.
THEN ?= 207068a
bench-then: setup testbed-deps fips-so
	@rm -rf "$(CACHE)/then/$(THEN)" && mkdir -p "$(CACHE)/then/$(THEN)/ansible_collections/flatcar" && \
	  git archive --format=tar "$(THEN)" | tar -x -C "$(CACHE)/then/$(THEN)/ansible_collections/flatcar" \
	    --one-top-level=fips
	for swap in false true; do \
	  TESTBED_CACHE="$(TESTBED_CACHE)" BENCH_THEN_COLLECTIONS="$(CACHE)/then/$(THEN)" BENCH_SWAP=$$swap \
	    BENCH_RUNS=3 BENCH_OUT="$(CURDIR)/bench/results/then-$(THEN)-swap-$$swap.json" \
	    bash bench/vm_bench.sh || exit 1; done

bench-plot:
	@test -f "$(PLOT_VENV)/.complete" || { rm -rf "$(PLOT_VENV)" && $(PYTHON) -m venv "$(PLOT_VENV)" && \
	  "$(PLOT_VENV)/bin/pip" install -q -r bench/requirements-plot.txt && touch "$(PLOT_VENV)/.complete"; }
	"$(PLOT_VENV)/bin/python" bench/plot.py

# What is generated from a source in the tree: the roles' README variable tables (from
# meta/argument_specs.yml) and module_utils/fips_guard_script.py (from data/fipsmodule-refresh.sh).
# The unit tests fail while any of them is stale.
docs: setup
	python tools/guard_script.py
	python tools/role_readme.py roles/fips_mode
	python tools/role_readme.py roles/python_bootstrap
	ansible-doc -t module flatcar.fips.kernel_args

clean:
	rm -rf "$(BUILD)" tests/output .pytest_cache .ruff_cache
