#!/usr/bin/env bash
# Build the collection's execution environment (extensions/ee/execution-environment.yml) with
# ansible-builder and podman, on a machine that reaches no container registry:
#
#   build-ee.sh TAG        ->  podman image TAG (prints TAG)
#
# The definition's base image (CentOS Stream 9) cannot be pulled here, so a local one stands in
# for it (EE_BASE_IMAGE): Debian bookworm from mmdebstrap with Python 3.11, pip and the OpenSSH
# client, the host's CA bundle (pip inside the build reaches PyPI through this machine's TLS
# proxy), a dnf stand-in (ansible-builder's scripts call dnf; every package they ask for is
# already installed, and the stand-in checks that) and an ensurepip stand-in (Debian disables
# ensurepip for its system Python; pip is installed). Everything else is the definition as users
# build it: the collection tarball from `ansible-galaxy collection build`, ansible-core and
# ansible-runner from PyPI, the collection's own dependencies found by introspection. The base
# image is cached in podman's storage, keyed by the hash of what makes it.
#
# podman 4.3 (Debian) needs --runtime runc and explicit ulimits on this machine.
set -euo pipefail
tag=${1:?image tag}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
podman_args=(--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

key=$(cat "$0" "$here/dnf-stand-in" "$here/ensurepip-stand-in.py" /etc/ssl/certs/ca-certificates.crt \
      | sha256sum | cut -c1-12)
base=localhost/flatcar-fips-ee-base:$key
if ! podman image exists "$base"; then
    work=$(mktemp -d)
    mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-pip,python3-venv,openssh-client,ca-certificates,bash \
        --customize-hook="upload $here/dnf-stand-in /usr/bin/dnf" \
        --customize-hook="chroot \"\$1\" chmod 755 /usr/bin/dnf" \
        --customize-hook="upload /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" \
        --customize-hook="upload $here/ensurepip-stand-in.py /usr/lib/python3.11/ensurepip/__main__.py" \
        bookworm "$work/base.tar" >&2
    podman import "$work/base.tar" "$base" >&2
    rm -rf "$work"
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/ee"
cp "$root/extensions/ee/execution-environment.yml" "$ctx/ee/"
ansible-galaxy collection build --output-path "$ctx/ee/collections" "$root" >&2
ansible-builder build -f "$ctx/ee/execution-environment.yml" -c "$ctx/context" -t "$tag" \
    --build-arg EE_BASE_IMAGE="$base" --extra-build-cli-args "${podman_args[*]}" -v 2 >&2
echo "$tag"
