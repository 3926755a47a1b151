#!/usr/bin/env bash
# sync benchmark on loopback: `wharf sync` against `skopeo sync --src yaml --dest dir`, the
# same YAML file, the same registry (Debian's docker-registry, distribution 2.8, plain
# HTTP on 127.0.0.1).
#
#   benches/sync.sh [WORKDIR]            (default /tmp/wharf-bench-sync)
#   RUNS=5 REPOS=10 TAGS=8 BASE_MIB=48 OWN_KIB=512 benches/sync.sh
#
# Data: REPOS repositories x TAGS tags; every image has the same BASE_MIB base layer and
# its own OWN_KIB layer (random bytes, incompressible), pushed once by wharf.
# Cases (median of RUNS, peak RSS from /usr/bin/time, the largest of the runs):
#   1. first sync into an empty wharf root / an empty skopeo dir;
#   2. the same sync again, nothing changed upstream (wharf: tag lists + one HEAD per tag;
#      skopeo's dir destination refuses to overwrite its earlier copy ("Refusing to
#      overwrite destination directory"), so its re-sync is a copy into an empty dir).
set -euo pipefail

WORK=${1:-/tmp/wharf-bench-sync}
RUNS=${RUNS:-5}
REPOS=${REPOS:-10}
TAGS=${TAGS:-8}
BASE_MIB=${BASE_MIB:-48}
OWN_KIB=${OWN_KIB:-512}
HERE=$(cd "$(dirname "$0")/.." && pwd)

cargo build --release --manifest-path "$HERE/Cargo.toml" >&2
WHARF="$HERE/target/release/wharf"
for t in skopeo python3 curl /usr/bin/time /usr/bin/docker-registry; do
    command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done

rm -rf "$WORK"
mkdir -p "$WORK"
SRC="$WORK/src"
"$WHARF" --root "$SRC" init >/dev/null

# --- data: one OCI layout per repository, TAGS manifests sharing the base -------------
python3 - "$WORK/layouts" "$REPOS" "$TAGS" "$BASE_MIB" "$OWN_KIB" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, repos, tags, base_mib, own_kib = sys.argv[1], *map(int, sys.argv[2:])

def tar_bytes(size):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("data.bin"); info.size = size; info.mtime = 0
        t.addfile(info, io.BytesIO(os.urandom(size)))
    return b.getvalue()

base = tar_bytes(base_mib << 20)
for r in range(repos):
    root = os.path.join(out, f"r{r}")
    blobs = os.path.join(root, "blobs", "sha256"); os.makedirs(blobs)
    def put(b):
        d = hashlib.sha256(b).hexdigest()
        open(os.path.join(blobs, d), "wb").write(b)
        return {"digest": "sha256:" + d, "size": len(b)}
    bd = put(base)
    entries = []
    for t in range(1, tags + 1):
        od = put(tar_bytes(own_kib << 10))
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **x} for x in (bd, od)]
        cfg = put(json.dumps({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in layers]}, "config": {}}).encode())
        man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg}, "layers": layers}).encode())
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
            "annotations": {"org.opencontainers.image.ref.name": f"1.{t}.0"}})
    json.dump({"schemaVersion": 2, "manifests": entries}, open(os.path.join(root, "index.json"), "w"))
    open(os.path.join(root, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
for i in $(seq 0 $((REPOS - 1))); do
    "$WHARF" --root "$SRC" import "$WORK/layouts/r$i" --repo "bench/r$i" >/dev/null
done
rm -rf "$WORK/layouts"

# --- registry ---------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOST="127.0.0.1:$PORT"
mkdir -p "$WORK/storage"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
http:
  addr: $HOST
EOF
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGPID=$!
trap 'kill $REGPID 2>/dev/null || true; wait $REGPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -fs "http://$HOST/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
"$WHARF" --root "$SRC" push --all --to "$HOST" --plain-http >/dev/null

# The one file both read: skopeo's format (every tag of each repository).
{
    echo "$HOST:"
    echo "  tls-verify: false"
    echo "  images:"
    for i in $(seq 0 $((REPOS - 1))); do echo "    bench/r$i: []"; done
} >"$WORK/sync.yaml"

# measure NAME CMD...: appends "seconds maxrss_kib" to $WORK/NAME.times
measure() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$WORK/.t" "$@" >/dev/null 2>"$WORK/.err" || {
        cat "$WORK/.err" >&2
        exit 2
    }
    cat "$WORK/.t" >>"$WORK/$name.times"
}

for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/dst" "$WORK/skopeo-dir"
    "$WHARF" --root "$WORK/dst" init >/dev/null
    sync
    measure wharf_first "$WHARF" --root "$WORK/dst" sync "$WORK/sync.yaml" --plain-http
    measure wharf_noop "$WHARF" --root "$WORK/dst" sync "$WORK/sync.yaml" --plain-http
    mkdir -p "$WORK/skopeo-dir"
    sync
    measure skopeo_first skopeo sync --src yaml --dest dir "$WORK/sync.yaml" "$WORK/skopeo-dir"
    # skopeo's dir: destination refuses to overwrite what it synced before, so a
    # weekly re-sync with skopeo is a fresh copy into an empty directory.
    rm -rf "$WORK/skopeo-dir"
    mkdir -p "$WORK/skopeo-dir"
    sync
    measure skopeo_noop skopeo sync --src yaml --dest dir "$WORK/sync.yaml" "$WORK/skopeo-dir"
done
rm -rf "$WORK/dst" "$WORK/skopeo-dir"

python3 - "$WORK" "$REPOS" "$TAGS" "$BASE_MIB" "$OWN_KIB" <<'PY'
import statistics, sys, os
work, repos, tags, base, own = sys.argv[1:]
def load(n):
    rows = [l.split() for l in open(os.path.join(work, n + ".times")) if l.strip()]
    return statistics.median(float(r[0]) for r in rows), max(int(r[1]) for r in rows) / 1024, len(rows)
print(f"sync benchmark on loopback (distribution 2.8): {repos} repos x {tags} tags sharing a {base} MiB base, {own} KiB own layer each")
print(f"{'case':<28}{'wharf s':>9}{'skopeo s':>10}{'ratio':>8}{'wharf RSS MiB':>15}{'skopeo RSS MiB':>16}{'runs':>6}")
for label, w, s in [("first sync", "wharf_first", "skopeo_first"), ("re-sync, nothing changed", "wharf_noop", "skopeo_noop")]:
    wm, wr, wn = load(w); sm, sr, sn = load(s)
    print(f"{label:<28}{wm:>9.3f}{sm:>10.3f}{sm / wm:>7.1f}x{wr:>15.1f}{sr:>16.1f}{wn:>6}")
PY
