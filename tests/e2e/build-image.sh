#!/usr/bin/env bash
# Builds a test image from local files only (no registry), as an OCI archive `ctr images import`
# takes. Usage: build-image.sh OUT.tar NAME:TAG ENTRYPOINT FILE... (each FILE is copied to /)
# The rootfs also gets busybox-static as /bin/busybox with /bin/sh.
set -euo pipefail
out=$1 name=$2 entrypoint=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" \
  "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
for file in "$@"; do cp "$file" "$work/rootfs/"; done
: >"$work/rootfs/etc/hosts"
: >"$work/rootfs/etc/resolv.conf"
"$(dirname "$0")/../../scripts/oci-archive" "$work/rootfs" "$out" "$name" "$entrypoint"
