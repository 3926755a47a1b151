#!/usr/bin/env bash
# Benchmark of cosign signatures in wharf, side by side in one run:
#   - `wharf sign` of N images (one command, one key, ECDSA P-256): target < 2 s for 1,000;
#   - `wharf verify` vs `wharf verify --key PUB --require-signed` over the same N signed
#     images: target < 20% more (signature checks run beside the hashing);
#   - the independent Python implementation (tests/it/cosign_py.py's primitives) verifying
#     the same N payloads, for scale.
# Prints medians and ratios.
#
#   benches/sign-verify.sh [DATA_DIR]     (default /tmp/wharf-bench-sign; N=1000 RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/wharf-bench-sign}
N=${N:-1000}
RUNS=${RUNS:-5}
mkdir -p "$DATA"

for t in hyperfine python3 jq; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done
python3 -c "import cryptography" || { echo "missing: python3 cryptography" >&2; exit 2; }

cargo build --release --quiet --bin wharf
W=$PWD/target/release/wharf
PY=$PWD/tests/it/cosign_py.py

# N small images (one 4 KiB layer each, tagged t0…t(N-1)) in an OCI layout, once.
if [ ! -f "$DATA/layout-$N/index.json" ]; then
  python3 - "$DATA/layout-$N" "$N" <<'EOF'
import hashlib, io, json, os, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
entries = []
for i in range(n):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = (b"%08d" % i) * 512
        info = tarfile.TarInfo("file-%d" % i); info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data))
    layer = buf.getvalue()
    l = put(layer); l["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [l["digest"]]}}).encode()
    c = put(cfg); c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": c, "layers": [l]}).encode()
    d = put(m); d["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    d["annotations"] = {"org.opencontainers.image.ref.name": "t%d" % i}
    entries.append(d)
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
EOF
fi
[ -f "$DATA/p256.key" ] || python3 "$PY" keygen p256 "$DATA"

# An unsigned registry holding the N images, once; each sign run starts from a copy.
if [ ! -d "$DATA/unsigned" ]; then
  "$W" --root "$DATA/unsigned" init >/dev/null
  "$W" --root "$DATA/unsigned" import --repo bench "$DATA/layout-$N" >/dev/null
fi
REFS=$(for i in $(seq 0 $((N - 1))); do printf 'bench:t%d ' "$i"; done)

echo "== sign $N images (one command)"
hyperfine --runs "$RUNS" --style basic --export-json "$DATA/sign.json" \
  --prepare "rm -rf $DATA/work && cp -a $DATA/unsigned $DATA/work" \
  -n "wharf sign x$N" "$W --root $DATA/work sign $REFS --key $DATA/p256.key"

# A signed registry for verify.
rm -rf "$DATA/signed" && cp -a "$DATA/unsigned" "$DATA/signed"
"$W" --root "$DATA/signed" sign $REFS --key "$DATA/p256.key" >/dev/null
"$W" --root "$DATA/signed" verify --key "$DATA/p256.pub" --require-signed >/dev/null
find "$DATA/signed" -type f -print0 | xargs -0 cat > /dev/null

echo "== verify vs verify --key over $N signed images"
hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$DATA/verify.json" \
  -n "wharf verify" "$W --root $DATA/signed verify" \
  -n "wharf verify --key" "$W --root $DATA/signed verify --key $DATA/p256.pub --require-signed"

median() { jq -r ".results[] | select(.command == \"$2\") | .median" "$1"; }
S=$(median "$DATA/sign.json" "wharf sign x$N")
V=$(median "$DATA/verify.json" "wharf verify")
K=$(median "$DATA/verify.json" "wharf verify --key")
echo
printf 'sign x%d:            %.3f s (target < 2 s for 1,000)\n' "$N" "$S"
printf 'verify:              %.3f s\n' "$V"
printf 'verify --key:        %.3f s (%+.1f%%; target < +20%%)\n' "$K" "$(echo "($K / $V - 1) * 100" | bc -l)"
