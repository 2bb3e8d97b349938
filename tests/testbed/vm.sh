#!/usr/bin/env bash
# Run a throwaway VM from the cached testbed image (see tests/testbed/README.md).
#
#   vm.sh start IMAGE_DIR RUN_DIR [PORT]   boot a qcow2 overlay of IMAGE_DIR/disk.img (TCG)
#   vm.sh wait RUN_DIR [TIMEOUT]           wait until SSH answers (default 600 s)
#   vm.sh ssh RUN_DIR COMMAND...           run a command as core
#   vm.sh stop RUN_DIR                     stop it by PID and delete the overlay
#
# SSH is forwarded from 127.0.0.1:PORT only; the guest network is restricted (no outside access).
# With TESTBED_MIRROR=DIR, the guest also reaches a read-only HTTP mirror of DIR at
# http://10.0.2.100/ (mirror.py, one process per connection, requests logged to RUN_DIR/mirror.log).
# RUN_DIR holds overlay.qcow2, OVMF_VARS.fd, qemu.pid, serial.log, port, and the ssh key.
set -euo pipefail

cmd=${1:?start|wait|ssh|stop}
shift
log() { printf '[vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ovmf_code() {
    for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_CODE.fd; do
        [ -f "$f" ] && { echo "$f"; return; }
    done
    log "ERROR: OVMF firmware not found (apt-get install ovmf)"; exit 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ssh_opts() {
    local run=$1
    echo -i "$run/id_ecdsa" -p "$(cat "$run/port")" -F /dev/null -o BatchMode=yes \
        -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=10 -o LogLevel=ERROR
}

case $cmd in
start)
    image=${1:?IMAGE_DIR} run=${2:?RUN_DIR} port=${3:-$(free_port)}
    mkdir -p "$run"
    qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$run/overlay.qcow2"
    code=$(ovmf_code)
    cp "${code/CODE/VARS}" "$run/OVMF_VARS.fd"
    install -m 0600 "$image/id_ecdsa" "$run/id_ecdsa"
    echo "$port" > "$run/port"
    netdev="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22"
    if [ -n "${TESTBED_MIRROR:-}" ]; then
        [ -d "$TESTBED_MIRROR" ] || { log "ERROR: TESTBED_MIRROR=$TESTBED_MIRROR is not a directory"; exit 1; }
        case "$TESTBED_MIRROR$run" in *,*|*' '*) log "ERROR: no commas or spaces in TESTBED_MIRROR or RUN_DIR"; exit 1;; esac
        netdev+=",guestfwd=tcp:10.0.2.100:80-cmd:$(command -v python3) $(cd "$(dirname "$0")" && pwd)/mirror.py"
        netdev+=" $TESTBED_MIRROR $(cd "$run" && pwd)/mirror.log"
    fi
    # TESTBED_SMP: vCPUs (default 2). With 1, two VMs run side by side on a 2-core machine.
    # A guest reboot ends the qemu process (-no-reboot) and a supervisor starts a fresh one on
    # the same disk, firmware variables and port: under TCG, an in-process reset now and then
    # left the firmware spinning with nothing on the console (seen once in 2026-12, the VM
    # never came back and the reboot timed out after 900 s). The serial log is appended to.
    rm -f "$run/stopping"
    : > "$run/serial.log"
    qemu=(qemu-system-x86_64 -accel "tcg,thread=multi" -cpu max -smp "${TESTBED_SMP:-2}" -m 1536
          -M q35 -nodefaults -display none -no-reboot -pidfile "$run/qemu.pid"
          -drive "if=pflash,format=raw,readonly=on,file=$code"
          -drive "if=pflash,format=raw,file=$run/OVMF_VARS.fd"
          -drive "file=$run/overlay.qcow2,format=qcow2,if=virtio"
          -netdev "$netdev"
          -device "virtio-net-pci,netdev=n0"
          -chardev "file,id=console,path=$run/serial.log,append=on" -serial chardev:console)
    setsid bash "$0" supervise "$run" "${qemu[@]}" </dev/null >/dev/null 2>&1 &
    echo $! > "$run/supervisor.pid"
    for _ in $(seq 100); do [ -s "$run/qemu.pid" ] && break; sleep 0.1; done
    [ -s "$run/qemu.pid" ] || { log "ERROR: qemu did not start:"; cat "$run/qemu.log" >&2; exit 1; }
    log "started (pid $(cat "$run/qemu.pid"), supervisor $(cat "$run/supervisor.pid"), ssh on 127.0.0.1:$port)"
    ;;
wait)
    run=${1:?RUN_DIR} timeout=${2:-600}
    start=$SECONDS
    # shellcheck disable=SC2046
    until ssh $(ssh_opts "$run") core@127.0.0.1 true 2>/dev/null; do
        if grep -q "Kernel panic" "$run/serial.log" 2>/dev/null; then
            log "ERROR: the guest kernel panicked:"; tail -n 40 "$run/serial.log" >&2
            exit 1
        fi
        if ! kill -0 "$(cat "$run/supervisor.pid")" 2>/dev/null; then
            log "ERROR: qemu exited:"; tail -n 5 "$run/qemu.log" >&2
            log "end of the serial console:"; tail -n 40 "$run/serial.log" >&2
            exit 1
        fi
        if (( SECONDS - start > timeout )); then
            log "ERROR: no SSH after ${timeout}s; end of the serial console:"
            tail -n 40 "$run/serial.log" >&2
            exit 1
        fi
        sleep 2
    done
    log "SSH answers after $(( SECONDS - start ))s"
    ;;
supervise)  # internal (start): run qemu again after each guest reboot, until stop
    run=${1:?RUN_DIR}; shift
    boots=0
    while :; do
        boots=$((boots + 1))
        status=0
        "$@" </dev/null >>"$run/qemu.log" 2>&1 || status=$?
        [ -e "$run/stopping" ] && exit 0
        if [ "$status" != 0 ]; then
            echo "vm.sh: qemu exited with status $status after boot $boots" >>"$run/qemu.log"
            exit "$status"
        fi
        echo "=== vm.sh: the guest rebooted (boot $boots ended): a fresh qemu process ===" \
            >>"$run/serial.log"
    done
    ;;
ssh)
    run=${1:?RUN_DIR}; shift
    # shellcheck disable=SC2046
    exec ssh $(ssh_opts "$run") core@127.0.0.1 "$@"
    ;;
stop)
    run=${1:?RUN_DIR}
    [ -d "$run" ] || exit 0  # never started (Molecule destroys before it creates)
    touch "$run/stopping"  # the supervisor starts no new qemu
    stopped=""
    for pidfile in "$run/supervisor.pid" "$run/qemu.pid"; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
        stopped=1
    done
    [ -z "$stopped" ] || log "stopped"
    rm -f "$run/overlay.qcow2" "$run/OVMF_VARS.fd"
    ;;
*)
    echo "usage: vm.sh start|wait|ssh|stop ..." >&2; exit 2 ;;
esac
