#!/usr/bin/env bash
# Benchmark of `wharf verify` against its peers, side by side in one run:
#   - openssl speed -evp sha256 -bytes 1048576 (the single-core SHA-256 ceiling),
#   - find blobs -type f | xargs -P2 -n64 sha256sum,
#   - oci-image-tool validate --type image,
# on a ~1.5 GiB layout (24 layers of 1–256 MiB in 3 images) and on 20,000 small layers
# (1–64 KiB, 200 images),
# with the data in the page cache. Prints medians, ratios and peak RSS.
#
#   benches/verify.sh [DATA_DIR]       (default /tmp/wharf-bench-verify; RUNS=5)
#
# Data is generated once by benches/support/verify_gen.rs (valid OCI images: gzip'd tar
# layers, configs with matching diff_ids) and kept for later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/wharf-bench-verify}
RUNS=${RUNS:-5}
OUT=$DATA/results
mkdir -p "$OUT"

for t in hyperfine openssl oci-image-tool sha256sum jq python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done

cargo build --release --quiet --bin wharf --example verify-gen
W=$PWD/target/release/wharf
GEN=$PWD/target/release/examples/verify-gen

[ -f "$DATA/large/index.json" ] || "$GEN" large "$DATA/large" 1500
[ -f "$DATA/small/index.json" ] || "$GEN" small "$DATA/small" 20000 1 64
[ -f "$DATA/one/index.json" ] || "$GEN" one "$DATA/one" 1024

# Into the page cache.
for d in large small one; do find "$DATA/$d" -type f -print0 | xargs -0 cat > /dev/null; done

echo "== openssl speed -evp sha256 -bytes 1048576 (single core)"
openssl speed -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null | tee "$OUT/openssl.txt" | tail -1
OPENSSL_BPS=$(awk '/^sha256/ {v=$2; sub("k","",v); printf "%.0f", v*1000}' "$OUT/openssl.txt")

for set in large small; do
  echo "== $set: $(ls "$DATA/$set/blobs/sha256" | wc -l) blobs, $(du -sh --apparent-size "$DATA/$set/blobs" | cut -f1)"
  hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$OUT/$set.json" \
    -n "wharf verify" "$W verify $DATA/$set" \
    -n "wharf verify --io read" "$W verify --io read $DATA/$set" \
    -n "wharf verify --io mmap" "$W verify --io mmap $DATA/$set" \
    -n "wharf verify --jobs 1" "$W verify --jobs 1 $DATA/$set" \
    -n "sha256sum -P2" "cd $DATA/$set && find blobs -type f | xargs -P2 -n64 sha256sum > /dev/null" \
    -n "oci-image-tool validate" "oci-image-tool validate --type image $DATA/$set > /dev/null" \
    > "$OUT/$set.log"
  du -sb --apparent-size "$DATA/$set/blobs" | cut -f1 > "$OUT/$set.bytes"
done

echo "== peak RSS (/usr/bin/time -v), default I/O mode"
: > "$OUT/rss.txt"
for set in one large small; do
  for io in auto read mmap; do
    rss=$(/usr/bin/time -v "$W" verify --io "$io" "$DATA/$set" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
    echo "$set $io $rss" >> "$OUT/rss.txt"
  done
done

python3 - "$OUT" "$OPENSSL_BPS" <<'EOF'
import json, sys
out, openssl = sys.argv[1], float(sys.argv[2])
print(f"\nopenssl single core: {openssl/1e9:.2f} GB/s; target for wharf on 2 cores: 0.9 x 2 x that = {1.8*openssl/1e9:.2f} GB/s")
print("(openssl speed divides by CPU time, not wall time; GB/CPU-s below is the comparable figure for each command)")
for s in ("large", "small"):
    res = {r["command"]: r for r in json.load(open(f"{out}/{s}.json"))["results"]}
    nbytes = int(open(f"{out}/{s}.bytes").read())
    base = res["wharf verify"]["median"]
    print(f"\n{s}: {nbytes/2**20:.0f} MiB of blobs")
    print(f"  {'command':28} {'median s':>9} {'min s':>7} {'GB/s':>6} {'GB/CPU-s':>9} {'x slower than wharf':>20}")
    for name, r in res.items():
        m = r["median"]
        cpu = r["user"] + r["system"]
        print(f"  {name:28} {m:9.3f} {r['min']:7.3f} {nbytes/m/1e9:6.2f} {nbytes/cpu/1e9:9.2f} {m/base:20.2f}")
print("\npeak RSS (KiB): set io rss")
for line in open(f"{out}/rss.txt"):
    print("  " + line.strip())
EOF
