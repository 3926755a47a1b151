#!/usr/bin/env bash
# Import benchmark: wharf import vs skopeo copy, on a ~1 GiB image, as a docker-archive
# and as an oci-archive. Prints hyperfine medians, the wharf/skopeo ratios and peak RSS.
# A `dd conv=fsync` copy of the archive is timed alongside as the floor: wharf fsyncs
# every blob before it is referenced (skopeo does not), so it cannot beat writing the
# same bytes durably.
#
#   benches/import.sh [WORKDIR]        (default /tmp/wharf-bench-import)
#   SIZE_MIB=2048 RUNS=5 benches/import.sh
#
# The image: LAYERS uncompressed tar layers of random (incompressible) files, SIZE_MIB
# in total, written as an OCI layout by this script, then converted by skopeo to the
# two archives. Each timed run starts from an empty registry / destination (hyperfine
# --prepare, which also runs `sync` so no run pays for the previous run's writeback),
# so every run writes every blob.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/wharf-bench-import}"
size_mib="${SIZE_MIB:-1024}"
layers="${LAYERS:-4}"
runs="${RUNS:-5}"
for t in skopeo hyperfine python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done

cargo build --release -q
wharf="$PWD/target/release/wharf"
mkdir -p "$work"
src="$work/src-layout"

if [ ! -f "$work/image.oci.tar" ] || [ "$(cat "$work/size" 2>/dev/null)" != "$size_mib/$layers" ]; then
  echo "generating a ${size_mib} MiB image in $work ..." >&2
  rm -rf "$src" "$work"/image.*.tar "$work/gen"
  python3 - "$src" "$size_mib" "$layers" "$work/gen" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, size_mib, nlayers, gen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
os.makedirs(gen, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
per_layer = size_mib * (1 << 20) // nlayers
layers, diffs = [], []
for i in range(nlayers):
    path = f"{gen}/layer{i}.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        left, n = per_layer, 0
        while left > 0:
            chunk = min(left, 64 << 20)
            ti = tarfile.TarInfo(f"data/l{i}/f{n}"); ti.size = chunk; ti.mtime = 0
            t.addfile(ti, io.BytesIO(os.urandom(chunk)))
            left -= chunk; n += 1
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    d = h.hexdigest()
    os.rename(path, f"{out}/blobs/sha256/{d}")
    sz = os.path.getsize(f"{out}/blobs/sha256/{d}")
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d, "size": sz})
    diffs.append("sha256:" + d)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cs = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": layers}).encode()
md, ms = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
  "annotations": {"org.opencontainers.image.ref.name": "1"}}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
  skopeo copy -q "oci:$src:1" "docker-archive:$work/image.docker.tar:bench/app:1"
  skopeo copy -q "oci:$src:1" "oci-archive:$work/image.oci.tar:bench/app:1"
  echo "$size_mib/$layers" > "$work/size"
fi
ls -l "$work"/image.*.tar >&2

reg="$work/reg"
dst="$work/skopeo-dst"
prep_reg="rm -rf $reg && $wharf --root $reg init >/dev/null && sync"
prep_dst="rm -rf $dst && sync"
hyperfine --runs "$runs" --export-json "$work/hyperfine.json" \
  --command-name "wharf import docker-archive" --prepare "$prep_reg" "$wharf --root $reg -q import $work/image.docker.tar" \
  --command-name "skopeo copy docker-archive: oci:" --prepare "$prep_dst" "skopeo copy -q docker-archive:$work/image.docker.tar oci:$dst:1" \
  --command-name "wharf import oci-archive" --prepare "$prep_reg" "$wharf --root $reg -q import $work/image.oci.tar" \
  --command-name "skopeo copy oci-archive: oci:" --prepare "$prep_dst" "skopeo copy -q oci-archive:$work/image.oci.tar oci:$dst:1" \
  --command-name "floor: dd conv=fsync of the oci-archive" --prepare "rm -f $work/dd.out && sync" "dd if=$work/image.oci.tar of=$work/dd.out bs=1M conv=fsync status=none" \
  >&2
rm -f "$work/dd.out"

rss() { # peak RSS in MiB of one fresh run
  eval "$1" >/dev/null 2>&1
  /usr/bin/time -v bash -c "$2" 2>&1 >/dev/null | awk '/Maximum resident set size/ {printf "%.1f", $6/1024}'
}
declare -A peak
peak["wharf import docker-archive"]=$(rss "$prep_reg" "$wharf --root $reg -q import $work/image.docker.tar")
peak["skopeo copy docker-archive: oci:"]=$(rss "$prep_dst" "skopeo copy -q docker-archive:$work/image.docker.tar oci:$dst:1")
peak["wharf import oci-archive"]=$(rss "$prep_reg" "$wharf --root $reg -q import $work/image.oci.tar")
peak["skopeo copy oci-archive: oci:"]=$(rss "$prep_dst" "skopeo copy -q oci-archive:$work/image.oci.tar oci:$dst:1")

python3 - "$work/hyperfine.json" "$size_mib" \
  "${peak["wharf import docker-archive"]}" "${peak["skopeo copy docker-archive: oci:"]}" \
  "${peak["wharf import oci-archive"]}" "${peak["skopeo copy oci-archive: oci:"]}" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
rss = {"floor: dd conv=fsync of the oci-archive": "-"}
rss |= dict(zip(["wharf import docker-archive", "skopeo copy docker-archive: oci:", "wharf import oci-archive", "skopeo copy oci-archive: oci:"], sys.argv[3:]))
print(f"image: {size} MiB; runs per command: {len(next(iter(res.values()))['times'])}")
print(f"{'command':40} {'median s':>9} {'min s':>7} {'max s':>7} {'MiB/s':>7} {'peak RSS MiB':>13}")
for name, r in res.items():
    print(f"{name:40} {r['median']:9.2f} {r['min']:7.2f} {r['max']:7.2f} {size / r['median']:7.0f} {rss[name]:>13}")
for kind in ["docker-archive", "oci-archive"]:
    w = res[f"wharf import {kind}"]["median"]
    s = res[f"skopeo copy {kind}: oci:"]["median"]
    print(f"{kind}: skopeo/wharf median ratio = {s / w:.1f}x")
PY
