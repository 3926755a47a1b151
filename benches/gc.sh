#!/usr/bin/env bash
# Benchmarks of wharf's cleanup commands, with the peer side by side where one exists.
#
#   benches/gc.sh [WORKDIR]        (default /dev/shm/wharf-bench-gc; about 5 minutes)
#
# The default WORKDIR is on tmpfs: every run needs a fresh copy of 110,000 files, which
# takes about a minute on this machine's ext4 disk, and on ext4 the removal itself (one
# unlink per blob, serialised by the directory lock) dominates both tools' time. Pass a
# directory on disk (e.g. /tmp/wharf-bench-gc) to measure that case; RUNS=3 keeps it short.
#
# 1. gc on one OCI layout of 100,000 blobs / 10,000 manifests, half unreferenced:
#    `wharf gc --grace 0s` vs `umoci gc`, each on a fresh copy of the same layout.
#    (--grace 0s because umoci has no grace period and the data is freshly written.)
# 2. gc on a registry of 50 repositories sharing base layers through the pool, vs
#    `umoci gc` run on each of the 50 layouts in turn (umoci knows no pool).
# 3. purge and sweep over 10,000 tags (dry runs, and a real purge on a fresh copy).
# Prints medians (hyperfine, several runs each), ratios, and peak RSS (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/dev/shm/wharf-bench-gc}
RUNS=${RUNS:-5}
for t in hyperfine umoci python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y hyperfine umoci python3 time)" >&2; exit 2; }
done

cargo build --release --quiet
WHARF=$PWD/target/release/wharf
GEN=$PWD/benches/gc_gen.py
STATS=$PWD/benches/gc_stats.py
rm -rf "$WORK" && mkdir -p "$WORK"

median() { python3 "$STATS" median "$1"; }
ratio() { python3 "$STATS" ratio "$1"; }
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.1f MiB\n", $2/1024}'; }

echo "== generating data under $WORK"
python3 "$GEN" layout "$WORK/layout" 10000 9        # 10k manifests + 10k configs + 90k layers = 110k files, ~100k blobs
python3 "$GEN" registry "$WORK/registry" 50 100 5   # 50 repos x 100 manifests, 5 shared base layers
python3 "$GEN" tags "$WORK/tags" 10000
echo "layout blobs: $(ls "$WORK/layout/blobs/sha256" | wc -l)"

echo
echo "== 1. gc of one layout (100k blobs, 10k manifests, half unreferenced): wharf vs umoci vs the floor"
# The floor: list the blob directory and unlink exactly the garbage (computed beforehand
# from index.json), in the same run. wharf's target is 1.3x the floor.
python3 "$STATS" garbage "$WORK/layout" > "$WORK/garbage.txt"
FLOOR="bash -c 'cd $WORK/copy/blobs/sha256 && ls -f . >/dev/null && xargs rm -f < $WORK/garbage.txt'"
hyperfine --runs "$RUNS" --export-json "$WORK/gc-layout.json" \
  --prepare "rm -rf $WORK/copy && cp -a $WORK/layout $WORK/copy && sync" \
  "$WHARF --root $WORK/copy gc --grace 0s" \
  "umoci gc --layout $WORK/copy" \
  "$FLOOR" >/dev/null
median "$WORK/gc-layout.json"; ratio "$WORK/gc-layout.json"
echo -n "  wharf / floor:"; python3 "$STATS" ratio "$WORK/gc-layout.json" 0 2
rm -rf "$WORK/copy" && cp -a "$WORK/layout" "$WORK/copy"
echo -n "peak RSS wharf gc: "; rss "$WHARF" --root "$WORK/copy" gc --grace 0s
rm -rf "$WORK/copy" && cp -a "$WORK/layout" "$WORK/copy"
echo -n "peak RSS umoci gc: "; rss umoci gc --layout "$WORK/copy"
echo -n "wharf gc --dry-run (plan only): "
hyperfine --runs "$RUNS" --export-json "$WORK/gc-dry.json" "$WHARF --root $WORK/layout gc --dry-run --grace 0s" >/dev/null
median "$WORK/gc-dry.json"

echo
echo "== 2. gc of a registry of 50 repositories sharing base layers"
UMOCI_ALL="for r in $WORK/copy/team/r*; do umoci gc --layout \$r; done"
hyperfine --runs "$RUNS" --export-json "$WORK/gc-registry.json" \
  --prepare "rm -rf $WORK/copy && cp -a $WORK/registry $WORK/copy && sync" \
  "$WHARF --root $WORK/copy gc --grace 0s" \
  "bash -c '$UMOCI_ALL'" >/dev/null
median "$WORK/gc-registry.json"; ratio "$WORK/gc-registry.json"
rm -rf "$WORK/copy" && cp -a "$WORK/registry" "$WORK/copy"
echo -n "peak RSS wharf gc (registry): "; rss "$WHARF" --root "$WORK/copy" gc --grace 0s

echo
echo "== 3. purge and sweep over 10,000 tags"
# Write the sidecar once (adoption backfills it), so the runs measure the steady state.
"$WHARF" --root "$WORK/tags" purge --filter 'app:none' >/dev/null
"$WHARF" --root "$WORK/tags" config retention --untagged-days 1 >/dev/null
P="purge --filter app:build-.* --ago 3d --keep 100"
# A registry where a tags-only purge left 3,601 manifests untagged, for the sweep.
rm -rf "$WORK/purged" && cp -a "$WORK/tags" "$WORK/purged"
"$WHARF" --root "$WORK/purged" --as-of 2026-01-09 $P >/dev/null
S="--as-of 2099-01-01 sweep"   # far ahead: retention and gc's grace period both apply
hyperfine --runs "$RUNS" --export-json "$WORK/purge-dry.json" \
  "$WHARF --root $WORK/tags --as-of 2026-01-09 $P --untagged --dry-run" \
  "$WHARF --root $WORK/purged $S --dry-run" >/dev/null
median "$WORK/purge-dry.json"
hyperfine --runs "$RUNS" --export-json "$WORK/purge-real.json" \
  --prepare "rm -rf $WORK/copy && cp -a $WORK/tags $WORK/copy" \
  "$WHARF --root $WORK/copy --as-of 2026-01-09 $P --untagged" >/dev/null
median "$WORK/purge-real.json"
hyperfine --runs "$RUNS" --export-json "$WORK/sweep-real.json" \
  --prepare "rm -rf $WORK/copy && cp -a $WORK/purged $WORK/copy" \
  "$WHARF --root $WORK/copy $S" >/dev/null
median "$WORK/sweep-real.json"
rm -rf "$WORK/copy" && cp -a "$WORK/tags" "$WORK/copy"
echo -n "  purge --untagged removes (tags, manifests): "
"$WHARF" --root "$WORK/copy" --json --as-of 2026-01-09 $P --untagged | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["total_tags"], r["total_manifests"])'
rm -rf "$WORK/copy" && cp -a "$WORK/purged" "$WORK/copy"
echo -n "  sweep removes (manifests by retention, blobs by gc): "
"$WHARF" --root "$WORK/copy" --json $S | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["retention"]["total_manifests"], r["gc"]["total_blobs"])'
rm -rf "$WORK/copy" && cp -a "$WORK/tags" "$WORK/copy"
echo -n "peak RSS wharf purge --untagged (10k tags): "; rss "$WHARF" --root "$WORK/copy" --as-of 2026-01-09 $P --untagged
rm -rf "$WORK/copy" && cp -a "$WORK/purged" "$WORK/copy"
echo -n "peak RSS wharf sweep (10k tags): "; rss "$WHARF" --root "$WORK/copy" $S
rm -rf "$WORK/copy"
