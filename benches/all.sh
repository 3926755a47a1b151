#!/usr/bin/env bash
# Every benchmark of wharf against its peer or floor, in one table:
#
#   what | wharf (median s) | peer or floor (median s) | ratio wharf/peer | wharf peak RSS
#
#   benches/all.sh [WORKDIR]          full sizes (the issue's: 110k-blob gc, 1 GiB import, ...)
#   QUICK=1 benches/all.sh [WORKDIR]  small sizes and 3 runs: a couple of minutes
#
# Each row runs wharf and its peer interleaved in one hyperfine call (medians of RUNS runs)
# on the same data, so a loaded machine slows both alike. The data lives on tmpfs
# (default /dev/shm/wharf-bench-all) and is generated once per size. The script never
# fails on a timing: it prints what it measured (CI runs `QUICK=1 benches/all.sh`), and a
# row whose tool is missing says so instead of a figure. The last table is kept in
# docs/PERFORMANCE.md with the machine it came from.
#
# Rows: gc (vs the floor: `ls -f` of the blob directory + `rm` of exactly the garbage;
# and vs umoci gc), import of an oci-archive and a docker-archive of 4 random layers (vs
# one `openssl dgst -sha256` pass over the cached archive, and vs skopeo), a
# gzip-compressed oci-archive (vs `pigz -dc | sha256sum`), and verify of a page-cached
# layout (vs `sha256sum` of every blob on both cores).
set -uo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/dev/shm/wharf-bench-all}
if [ -n "${QUICK:-}" ]; then
  RUNS=${RUNS:-3}; GC_MANIFESTS=2000; IMPORT_MIB=256; VERIFY_MIB=256
else
  RUNS=${RUNS:-5}; GC_MANIFESTS=10000; IMPORT_MIB=1024; VERIFY_MIB=1024
fi
for t in hyperfine python3 openssl /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y hyperfine python3 openssl time)" >&2; exit 2; }
done
cargo build --release --quiet --bin wharf || exit 2
WHARF=$PWD/target/release/wharf
BENCH=$PWD/benches
mkdir -p "$WORK"
ROWS=$WORK/rows.tsv
: > "$ROWS"

# row WHAT JSON I J RSS: the medians of commands I (wharf) and J (peer) of a hyperfine json.
row() {
  python3 - "$@" >> "$ROWS" <<'PY'
import json, sys
what, path, i, j, rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
try:
    r = json.load(open(path))["results"]
    w, p = r[i]["median"], r[j]["median"]
    print(f"{what}\t{w:.3f}\t{p:.3f}\t{w / p:.2f}x\t{rss}")
except Exception as e:
    print(f"{what}\t-\t-\t-\t({e})")
PY
}
skip() { printf '%s\t-\t-\t-\t(%s)\n' "$1" "$2" >> "$ROWS"; }
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.1f MiB", $2/1024}'; }
hf() { hyperfine -N --runs "$RUNS" --style none "$@" >/dev/null 2>&1; }

# --- gc ---------------------------------------------------------------------------------
GC=$WORK/gc-$GC_MANIFESTS
if [ ! -f "$GC/garbage.txt" ]; then
  rm -rf "$GC" && mkdir -p "$GC"
  python3 "$BENCH/gc_gen.py" layout "$GC/layout" "$GC_MANIFESTS" 9 >/dev/null
  python3 "$BENCH/gc_stats.py" garbage "$GC/layout" > "$GC/garbage.txt"
fi
BLOBS=$(ls "$GC/layout/blobs/sha256" | wc -l)
PREP="bash -c 'rm -rf $GC/copy && cp -a $GC/layout $GC/copy'"
FLOOR="bash -c 'cd $GC/copy/blobs/sha256 && ls -f . >/dev/null && xargs rm -f < $GC/garbage.txt'"
cmds=("$WHARF --root $GC/copy gc --grace 0s" "$FLOOR")
command -v umoci >/dev/null && cmds+=("umoci gc --layout $GC/copy")
hf --prepare "$PREP" --export-json "$GC/h.json" "${cmds[@]}"
eval "$PREP"
R=$(rss "$WHARF" --root "$GC/copy" gc --grace 0s)
row "gc, $BLOBS blobs, half garbage (floor: ls -f + rm)" "$GC/h.json" 0 1 "$R"
if command -v umoci >/dev/null; then row "gc, $BLOBS blobs (peer: umoci gc)" "$GC/h.json" 0 2 "$R"; else skip "gc (peer: umoci gc)" "umoci missing"; fi

# --- import -------------------------------------------------------------------------------
IMP=$WORK/import-$IMPORT_MIB
if [ ! -f "$IMP/image.oci.tar" ] && command -v skopeo >/dev/null; then
  rm -rf "$IMP" && mkdir -p "$IMP"
  sed -n '/^  python3 - "\$src"/,/^PY$/p' "$BENCH/import.sh" | sed '1d;$d' > "$IMP/gen.py"
  python3 "$IMP/gen.py" "$IMP/src" "$IMPORT_MIB" 4 "$IMP/gen" >/dev/null
  skopeo copy -q "oci:$IMP/src:1" "oci-archive:$IMP/image.oci.tar:bench/app:1"
  skopeo copy -q "oci:$IMP/src:1" "docker-archive:$IMP/image.docker.tar:bench/app:1"
  rm -rf "$IMP/src" "$IMP/gen"
fi
if [ -f "$IMP/image.oci.tar" ]; then
  cat "$IMP"/image.*.tar > /dev/null
  PREP="bash -c 'rm -rf $IMP/reg && $WHARF --root $IMP/reg init >/dev/null'"
  for kind in oci docker; do
    A=$IMP/image.$kind.tar
    hf --export-json "$IMP/$kind.json" \
      --prepare "$PREP" "$WHARF --root $IMP/reg -q import $A" \
      --prepare "true" "openssl dgst -sha256 $A" \
      --prepare "rm -rf $IMP/dst" "skopeo copy -q $kind-archive:$A oci:$IMP/dst:1"
    eval "$PREP"
    R=$(rss "$WHARF" --root "$IMP/reg" -q import "$A")
    row "import $kind-archive, $IMPORT_MIB MiB, 4 layers (floor: openssl dgst -sha256)" "$IMP/$kind.json" 0 1 "$R"
    row "import $kind-archive, $IMPORT_MIB MiB (peer: skopeo copy)" "$IMP/$kind.json" 0 2 "$R"
  done
  if command -v pigz >/dev/null; then
    [ -f "$IMP/image.oci.tar.gz" ] || pigz -1 -c "$IMP/image.oci.tar" > "$IMP/image.oci.tar.gz"
    A=$IMP/image.oci.tar.gz
    hf --export-json "$IMP/gz.json" \
      --prepare "$PREP" "$WHARF --root $IMP/reg -q import $A" \
      --prepare "true" "bash -c 'pigz -dc $A | sha256sum'"
    eval "$PREP"
    R=$(rss "$WHARF" --root "$IMP/reg" -q import "$A")
    row "import gzip oci-archive, $IMPORT_MIB MiB (floor: pigz -dc piped to sha256sum)" "$IMP/gz.json" 0 1 "$R"
  else
    skip "import gzip oci-archive" "pigz missing"
  fi
else
  skip "import oci-archive / docker-archive" "skopeo missing"
fi

# --- verify -------------------------------------------------------------------------------
VER=$WORK/verify-$VERIFY_MIB
if [ ! -f "$VER/index.json" ]; then
  cargo build --release --quiet --example verify-gen || exit 2
  rm -rf "$VER"
  "$PWD/target/release/examples/verify-gen" large "$VER" "$VERIFY_MIB" >/dev/null
fi
find "$VER" -type f -print0 | xargs -0 cat > /dev/null
hf --warmup 1 --export-json "$VER/h.json" \
  "$WHARF verify $VER" \
  "bash -c 'cd $VER && find blobs -type f | xargs -P2 -n64 sha256sum > /dev/null'"
R=$(rss "$WHARF" verify "$VER")
row "verify, $VERIFY_MIB MiB page-cached (floor: sha256sum on 2 cores)" "$VER/h.json" 0 1 "$R"

# --- the table ----------------------------------------------------------------------------
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs per command: $RUNS${QUICK:+ (QUICK)}"
echo
python3 - "$ROWS" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
head = ["what", "wharf s", "peer/floor s", "ratio", "wharf peak RSS"]
w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |")
print("|" + "|".join("-" * (w[i] + 2) for i in range(5)) + "|")
for r in rows:
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
PY
exit 0
