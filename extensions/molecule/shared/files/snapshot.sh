#!/usr/bin/env bash
# Modes, owners, link targets and hashes of every file FIPS mode touches, and of the LUKS headers:
# read-only, so a check-mode run can be proven to change nothing.
set -uo pipefail
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/* /etc/ssl/openssl.cnf \
         /etc/ssl/fipsmodule.cnf /etc/system-fips /oem/grub.cfg /usr/share/oem/grub.cfg \
         /etc/systemd/system/flatcar-fips-fipsmodule.service /etc/ssh/ssh_host_*; do
    if [ -e "$f" ] || [ -L "$f" ]; then
        echo "$(stat -c '%n %a %U:%G %F' "$f") -> $(readlink "$f") $(sha256sum "$f" 2>/dev/null | cut -c1-64)"
    else
        echo "$f absent"
    fi
done
for img in /var/lib/luks/*.img; do
    echo "$img header $(head -c 16M "$img" | sha256sum | cut -c1-64)"
done
