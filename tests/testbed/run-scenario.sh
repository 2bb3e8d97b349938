#!/usr/bin/env bash
# The end-to-end scenario on a Flatcar-like VM: build or reuse the image, boot a throwaway
# overlay, switch it into FIPS mode with the collection (converge), check idempotence, verify
# every layer inside the rebooted VM and from outside, tear the VM down. Progress and timings go
# to stderr.
#
#   run-scenario.sh VARIANT CACHE_DIR FIPS_SO [--idempotence]
set -euo pipefail
variant=${1:?variant} cache=${2:?cache} fips_so=${3:?fips.so} idempotence=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
t0=$SECONDS
step() { printf '\n=== [%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( SECONDS - t0 ))" "$*" >&2; }

step "image ($variant)"
image=$(bash "$here/image.sh" "$variant" "$cache/images" "$fips_so")
run=$(mktemp -d "${TMPDIR:-/tmp}/flatcar-testbed-run.XXXXXX")
trap 'bash "$here/vm.sh" stop "$run"; rm -rf "$run"' EXIT

step "the Python the host will be bootstrapped with (a system extension image from Debian's packages)"
python_dir=$(bash "$here/python-artifacts.sh" "$cache/images")
export TESTBED_PYTHON=$python_dir

step "boot the VM (TCG, UEFI + GRUB; first SSH answer within 900 s)"
bash "$here/vm.sh" start "$image" "$run"
bash "$here/vm.sh" wait "$run" 900

port=$(cat "$run/port")
# Host key checking on, as in Ansible's defaults, with the key a first connection records with
# OpenSSH's defaults (ssh-ed25519 only): the role learns the FIPS host keys before the switch.
step "record the host key as a first connection does (ssh-ed25519), host key checking stays on"
ssh -i "$run/id_ecdsa" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$run/known_hosts" core@127.0.0.1 true
ssh-keygen -l -f "$run/known_hosts" >&2
cat > "$run/inventory.yml" <<INV
flatcar:
  hosts:
    testbed:
      ansible_host: 127.0.0.1
      ansible_port: $port
      ansible_user: core
      ansible_ssh_private_key_file: $run/id_ecdsa
      ansible_ssh_common_args: -o UserKnownHostsFile=$run/known_hosts
      ansible_python_interpreter: /usr/bin/python3
  vars:
    testbed_variant: $variant
    # Flatcar ships no Python, nor does the testbed: bootstrap it from a system extension image
    fips_bootstrap_python: true
    python_bootstrap_method: sysext
    python_bootstrap_sysext_src: $python_dir/python.raw
    python_bootstrap_sysext_sha256: $(awk '$2 == "python.raw" {print $1}' "$python_dir/SHA256SUMS")
    fips_mode_reboot_ok: true
    fips_mode_known_hosts: learn
    fips_mode_luks_devices: [/var/lib/luks/argon2id.img, /var/lib/luks/pbkdf2.img]
    fips_mode_luks_keys:
      /var/lib/luks/argon2id.img:
        key_file: /etc/luks/argon2id.key
INV
if [ "$variant" = stable ]; then
    cat >> "$run/inventory.yml" <<INV
    fips_mode_luks_header_backup_fetch_dir: $run/luks-headers
    fips_mode_luks_remove_header_backups: true
INV
fi
export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=True

step "before: the Flatcar $variant layout, not in FIPS mode, and no Python on the host"
# shellcheck disable=SC2016 # expanded in the guest
bash "$here/vm.sh" ssh "$run" 'cat /proc/cmdline; ls -l /etc/ssl/openssl.cnf /etc/ssh/sshd_config
  if command -v python3 >/dev/null; then echo "python3: $(command -v python3)"
  else echo "python3: none on this host (as on Flatcar); flatcar.fips.python_bootstrap brings it"; fi'
ansible-playbook -i "$run/inventory.yml" -e testbed_variant="$variant" "$here/playbooks/layout.yml"

step "converge: flatcar.fips.enable (fips_mode role: preflight, sshd, LUKS, OpenSSL, kernel argument, reboot, verify)"
ansible-playbook -i "$run/inventory.yml" "$here/playbooks/converge.yml"

if [ "$idempotence" = --idempotence ]; then
    step "idempotence: a second converge must change nothing"
    ansible-playbook -i "$run/inventory.yml" "$here/playbooks/converge.yml" | tee "$run/second.log"
    if ! grep -Eq 'testbed +: ok=[0-9]+ +changed=0 ' "$run/second.log"; then
        echo "IDEMPOTENCE FAILED: the second converge changed something" >&2
        exit 1
    fi
fi

step "verify: inside the rebooted VM and from outside"
ansible-playbook -i "$run/inventory.yml" "$here/playbooks/verify.yml"

step "the controller's known-hosts file now also holds the FIPS host keys it learned"
ssh-keygen -l -f "$run/known_hosts" >&2

step "done: $variant verified in FIPS mode in $(( SECONDS - t0 ))s"
