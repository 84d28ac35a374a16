#!/usr/bin/env bash
# Builds an OCI image layout tar that `ctr images import` accepts, from local files only (no registry).
# Usage: build-image.sh OUT.tar NAME:TAG ENTRYPOINT FILE... (each FILE is copied to /)
# The rootfs also gets busybox-static as /bin/busybox with /bin/sh.
set -euo pipefail
out=$1 name=$2 entrypoint=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" \
  "$work/rootfs/etc" "$work/layout/blobs/sha256"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
for file in "$@"; do cp "$file" "$work/rootfs/"; done
: >"$work/rootfs/etc/hosts"
: >"$work/rootfs/etc/resolv.conf"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/rootfs" -cf "$work/layer.tar" .
blob() {  # moves a file into the blob store; prints its digest and size
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$work/layout/blobs/sha256/$digest"
  echo "$digest $size"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar")
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Entrypoint":["$entrypoint"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:$layer_digest"]}}
JSON
read -r config_digest config_size < <(blob "$work/config.json")
cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_digest","size":$layer_size}]}
JSON
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
cat >"$work/layout/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"${name##*:}"}}]}
JSON
tar -C "$work/layout" -cf "$out" .
