#!/usr/bin/env bash
# Makes the two tiny quickstart samples committed next to this script:
#   hello.oci-archive.tar     (skopeo oci-archive, named hello:latest)
#   hello.docker-archive.tar  (skopeo docker-archive, RepoTags hello:latest)
# from a one-file image built with umoci. Needs umoci and skopeo; no daemon, no network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/layout"
umoci new --image "$work/layout:hello"
umoci unpack --rootless --image "$work/layout:hello" "$work/bundle"
printf 'hello from wharf\n' > "$work/bundle/rootfs/hello.txt"
umoci repack --image "$work/layout:hello" "$work/bundle"
umoci config --image "$work/layout:hello" --config.cmd /bin/cat --config.cmd /hello.txt \
  --os linux --architecture amd64
rm -f "$here/hello.oci-archive.tar" "$here/hello.docker-archive.tar"
skopeo copy -q "oci:$work/layout:hello" "oci-archive:$here/hello.oci-archive.tar:hello:latest"
skopeo copy -q "oci:$work/layout:hello" "docker-archive:$here/hello.docker-archive.tar:hello:latest"
ls -l "$here"/hello.*.tar
