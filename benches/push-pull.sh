#!/usr/bin/env bash
# push/pull benchmark on loopback: wharf against skopeo, same data, same registry
# (Debian's docker-registry, distribution 2.8, plain HTTP on 127.0.0.1).
#
#   benches/push-pull.sh [WORKDIR]        (default /tmp/wharf-bench-push-pull)
#   RUNS=3 BIG_MIB=1024 BASE_MIB=48 REPOS=8 benches/push-pull.sh
#
# Cases (median of RUNS, peak RSS from /usr/bin/time):
#   1. REPOS repositories sharing a BASE_MIB base layer (each with its own 1 MiB layer):
#      `wharf push --all` vs `skopeo copy --preserve-digests` per tag, each into an
#      empty registry.
#   2. The same push again (everything present): a no-op for both.
#   3. Pull of one image with a BIG_MIB layer: `wharf pull` into an empty root vs
#      `skopeo copy docker://… oci:DIR`.
# Layers are tars of random bytes (incompressible), made by a script.
set -euo pipefail

WORK=${1:-/tmp/wharf-bench-push-pull}
RUNS=${RUNS:-3}
REPOS=${REPOS:-8}
BASE_MIB=${BASE_MIB:-48}
BIG_MIB=${BIG_MIB:-1024}
HERE=$(cd "$(dirname "$0")/.." && pwd)

cargo build --release --manifest-path "$HERE/Cargo.toml" >&2
WHARF="$HERE/target/release/wharf"
for t in skopeo python3 /usr/bin/time /usr/bin/docker-registry; do
    command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done

rm -rf "$WORK"
mkdir -p "$WORK"
REG="$WORK/reg"
"$WHARF" --root "$REG" init >/dev/null

# --- data -------------------------------------------------------------------------
python3 - "$WORK/layouts" "$REPOS" "$BASE_MIB" "$BIG_MIB" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, repos, base_mib, big_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def tar_of(path, size, chunk=1 << 20):
    """A tar with one file of `size` random bytes, written to `path`; returns (digest, size)."""
    h = hashlib.sha256()
    class W:
        def __init__(self, f): self.f = f
        def write(self, b): h.update(b); self.f.write(b); return len(b)
        def flush(self): pass
    class R(io.RawIOBase):
        def __init__(self, n): self.left = n
        def readable(self): return True
        def readinto(self, b):
            n = min(len(b), self.left)
            if n == 0: return 0
            b[:n] = os.urandom(n); self.left -= n; return n
    with open(path, "wb") as f:
        w = W(f)
        with tarfile.open(fileobj=w, mode="w|", format=tarfile.GNU_FORMAT) as t:
            info = tarfile.TarInfo("data.bin"); info.size = size; info.mtime = 0
            t.addfile(info, io.BufferedReader(R(size), buffer_size=chunk))
    return "sha256:" + h.hexdigest(), os.path.getsize(path)

def layout(root, layers, tag):
    blobs = os.path.join(root, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
    descs = []
    for path, (d, size) in layers:
        os.link(path, os.path.join(blobs, d[7:])) if not os.path.exists(os.path.join(blobs, d[7:])) else None
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": size})
    def put(b):
        d = hashlib.sha256(b).hexdigest()
        open(os.path.join(blobs, d), "wb").write(b)
        return {"digest": "sha256:" + d, "size": len(b)}
    cfg = put(json.dumps({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in descs]}, "config": {}}).encode())
    man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg}, "layers": descs}).encode())
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}, open(os.path.join(root, "index.json"), "w"))
    open(os.path.join(root, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')

os.makedirs(out, exist_ok=True)
base = os.path.join(out, "base.tar"); bd = tar_of(base, base_mib << 20)
for i in range(repos):
    own = os.path.join(out, f"own{i}.tar"); od = tar_of(own, 1 << 20)
    layout(os.path.join(out, f"r{i}"), [(base, bd), (own, od)], "1")
big = os.path.join(out, "big.tar"); gd = tar_of(big, big_mib << 20)
layout(os.path.join(out, "big"), [(big, gd)], "1")
PY
for i in $(seq 0 $((REPOS - 1))); do
    "$WHARF" --root "$REG" import "$WORK/layouts/r$i" --repo "bench/r$i" >/dev/null
done
BIGREG="$WORK/bigreg"
"$WHARF" --root "$BIGREG" init >/dev/null
"$WHARF" --root "$BIGREG" import "$WORK/layouts/big" --repo bench/big >/dev/null
rm -rf "$WORK/layouts"

# --- registry ---------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOST="127.0.0.1:$PORT"
REGPID=""
start_registry() {
    stop_registry
    rm -rf "$WORK/storage"
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
    for _ in $(seq 100); do
        curl -fs "http://$HOST/v2/" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "registry did not start" >&2
    exit 2
}
stop_registry() {
    if [ -n "$REGPID" ]; then
        kill "$REGPID" 2>/dev/null || true
        wait "$REGPID" 2>/dev/null || true
        REGPID=""
    fi
}
trap stop_registry EXIT

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

skopeo_push_all() {
    for i in $(seq 0 $((REPOS - 1))); do
        skopeo copy -q --preserve-digests --dest-tls-verify=false \
            "oci:$REG/bench/r$i:1" "docker://$HOST/bench/r$i:1"
    done
}
export -f skopeo_push_all
export REG HOST REPOS

for _ in $(seq "$RUNS"); do
    start_registry
    measure wharf_push "$WHARF" --root "$REG" push --all --to "$HOST" --plain-http
    for _ in $(seq "$RUNS"); do
        measure wharf_noop "$WHARF" --root "$REG" push --all --to "$HOST" --plain-http
    done
    start_registry
    measure skopeo_push bash -c skopeo_push_all
    for _ in $(seq "$RUNS"); do
        measure skopeo_noop bash -c skopeo_push_all
    done
done

# Pull of the big image (pushed once by wharf; its RSS is the 1 GiB push figure).
start_registry
rm -f "$WORK/wharf_big_push.times"
measure wharf_big_push "$WHARF" --root "$BIGREG" push bench/big:1 --to "$HOST" --plain-http
for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/pulled" "$WORK/skopeo-oci"
    "$WHARF" --root "$WORK/pulled" init >/dev/null
    sync
    measure wharf_pull "$WHARF" --root "$WORK/pulled" pull --plain-http "$HOST/bench/big:1"
    rm -rf "$WORK/pulled"
    sync
    measure skopeo_pull skopeo copy -q --src-tls-verify=false "docker://$HOST/bench/big:1" "oci:$WORK/skopeo-oci:1"
    rm -rf "$WORK/skopeo-oci"
done

python3 - "$WORK" "$REPOS" "$BASE_MIB" "$BIG_MIB" <<'PY'
import statistics, sys, os
work, repos, base, big = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def load(n):
    rows = [l.split() for l in open(os.path.join(work, n + ".times")) if l.strip()]
    return statistics.median(float(r[0]) for r in rows), max(int(r[1]) for r in rows) / 1024, len(rows)
print(f"push-pull benchmark on loopback (distribution 2.8), {repos} repos sharing a {base} MiB base, a {big} MiB pull")
print(f"{'case':<34}{'wharf s':>9}{'skopeo s':>10}{'ratio':>8}{'wharf RSS MiB':>15}{'skopeo RSS MiB':>16}")
for label, w, s in [("push --all (empty registry)", "wharf_push", "skopeo_push"),
                    ("push again (no-op)", "wharf_noop", "skopeo_noop"),
                    (f"pull {big} MiB image", "wharf_pull", "skopeo_pull")]:
    wm, wr, wn = load(w); sm, sr, sn = load(s)
    print(f"{label:<34}{wm:>9.3f}{sm:>10.3f}{sm / wm:>7.1f}x{wr:>15.1f}{sr:>16.1f}")
bm, br, _ = load("wharf_big_push")
print(f"{'wharf push of the ' + big + ' MiB image':<34}{bm:>9.3f}{'':>10}{'':>8}{br:>15.1f}")
PY
