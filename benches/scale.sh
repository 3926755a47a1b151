#!/usr/bin/env bash
# Scale benchmark (issue 12): every command against growing repositories, registries and
# blob stores, with medians, growth ratios and peak RSS.
#
#   benches/scale.sh [WORKDIR]     (default /dev/shm/wharf-bench-scale)
#
# Sizes: one repository of 5k, 20k, 80k, 320k tags (each tag on its own manifest, made
# by `gc_gen.py tags`); registries of 500, 2k, 10k repositories (`gc_gen.py registry`,
# 4 manifests each); one layout of 100k and 1M blobs (`gc_gen.py layout`, half of them
# unreferenced). Every command runs RUNS times (default 3) on the same data; a write
# (tag, untag, delete, import) is undone by an untimed step before the next run, or acts
# on a different tag each run. Time is wall-clock (%e) and RSS the peak (%M) from
# /usr/bin/time; the table prints the median time, the growth for each 4x step (5x for
# 2k -> 10k repositories, 10x for 100k -> 1M blobs) and the largest peak RSS.
#
# Wall time on a shared machine includes waiting for a core, so the CPU time (user+sys)
# is printed too. The 320k-tag size runs each command once.
#
# Knobs: QUICK=1 skips the largest sizes (320k tags, 10k repositories, 1M blobs);
# RUNS=N; BIG_RUNS=N (runs at 320k tags and 1M blobs, default 1); TAG_SIZES /
# REPO_SIZES / BLOB_SIZES (below). The 320k/1M data need about 3 GiB of tmpfs and a few minutes to generate.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/dev/shm/wharf-bench-scale}
RUNS=${RUNS:-3}
QUICK=${QUICK:-0}
for t in python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done

cargo build --release --quiet
W=$PWD/target/release/wharf
GEN=$PWD/benches/gc_gen.py
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
: >"$RESULTS"

if [ "$QUICK" = 1 ]; then
  DEF_TAGS="5000 20000 80000"; DEF_REPOS="500 2000"; DEF_BLOBS="100000"
else
  DEF_TAGS="5000 20000 80000 320000"; DEF_REPOS="500 2000 10000"; DEF_BLOBS="100000 1000000"
fi
# TAG_SIZES, REPO_SIZES, BLOB_SIZES override the sizes (an empty one skips the group):
# `TAG_SIZES=100000 REPO_SIZES= BLOB_SIZES= benches/scale.sh` measures the 100k targets.
TAG_SIZES=${TAG_SIZES-$DEF_TAGS}; REPO_SIZES=${REPO_SIZES-$DEF_REPOS}; BLOB_SIZES=${BLOB_SIZES-$DEF_BLOBS}

# measure GROUP SIZE NAME PREPARE CMD... : RUNS timed runs of CMD (with {i} replaced by
# the run number), each after the untimed shell snippet PREPARE (also with {i}).
measure() {
  local group=$1 size=$2 name=$3 prep=$4; shift 4
  local times=() cpus=() rss=0 runs=$RUNS
  # BIG_RUNS runs each (default 1) at the largest sizes, whose data take longest.
  if [ "$size" -ge 320000 ]; then runs=${BIG_RUNS:-1}; fi
  for i in $(seq 1 "$runs"); do
    if [ -n "$prep" ]; then bash -c "${prep//\{i\}/$i}" >/dev/null 2>&1 || true; fi
    local args=()
    for a in "$@"; do args+=("${a//\{i\}/$i}"); done
    local out
    /usr/bin/time -o "$WORK/time.out" -f '%e %M %U %S' "${args[@]}" >/dev/null 2>"$WORK/stderr.out" ||
      { echo "  ($name exited non-zero (verify: 1 = findings): $(tail -1 "$WORK/stderr.out"))" >&2; }
    local e m u s
    read -r e m u s < <(tail -1 "$WORK/time.out")
    times+=("$e")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  local med cpu
  med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$name" "$size" "$med" "$rss" "$cpu" >>"$RESULTS"
  printf '  %-28s %8s  %6.2f s  (cpu %6.2f s)  %6.1f MiB\n' "$name" "$size" "$med" "$cpu" "$(awk -v r="$rss" 'BEGIN {print r/1024}')"
}

echo "== tags (one repository)"
for n in $TAG_SIZES; do
  d=$WORK/tags-$n
  if [ ! -f "$d/.generated" ]; then
    rm -rf "$d"; python3 "$GEN" tags "$d" "$n"; touch "$d/.generated"
  fi
  R=(--root "$d")
  # First-time adoption: the sidecar backfill of a foreign-written repository, written
  # back by the first command that writes (a lock change here).
  rm -f "$d/app/wharf-meta.json"
  measure tags "$n" "adopt (first write)" "rm -f $d/app/wharf-meta.json" "$W" "${R[@]}" unlock app
  measure tags "$n" "tags" "" "$W" "${R[@]}" tags app
  measure tags "$n" "tags --json" "" "$W" "${R[@]}" --json tags app
  measure tags "$n" "manifests" "" "$W" "${R[@]}" manifests app
  measure tags "$n" "show" "" "$W" "${R[@]}" show app:keep-1
  measure tags "$n" "tag (one new tag)" "$W ${R[*]} untag app:new" "$W" "${R[@]}" tag app:keep-1 app:new
  measure tags "$n" "untag (one tag)" "$W ${R[*]} tag app:keep-3 app:new" "$W" "${R[@]}" untag app:new
  measure tags "$n" "delete (one manifest)" "" "$W" "${R[@]}" delete "app:build-{i}0"
  if [ ! -f "$WORK/one.tar" ]; then
    "$W" "${R[@]}" export -o "$WORK/one.tar" app:keep-5 >/dev/null
  fi
  measure tags "$n" "import (one tag)" "$W ${R[*]} untag app:imported" "$W" "${R[@]}" import --repo app --tag imported "$WORK/one.tar"
  measure tags "$n" "purge --dry-run (all)" "" "$W" "${R[@]}" purge --dry-run --filter 'app:.*'
  "$W" "${R[@]}" config retention --untagged-days 0 >/dev/null
  measure tags "$n" "sweep --dry-run" "" "$W" "${R[@]}" sweep --dry-run
  measure tags "$n" "gc --dry-run" "" "$W" "${R[@]}" gc --dry-run
  measure tags "$n" "verify --quick" "" "$W" "${R[@]}" verify --quick
  # Destructive runs last, once each (RUNS=1), on this data: purge every build-* tag
  # (half of them) and delete their manifests, then sweep what is left untagged.
  RUNS=1 measure tags "$n" "purge (half, real)" "" "$W" "${R[@]}" purge --untagged --filter 'app:build-.*'
  RUNS=1 measure tags "$n" "sweep (real)" "" "$W" "${R[@]}" sweep
  rm -f "$d/.generated"   # the data changed: regenerate next time
done

echo "== repositories"
for n in $REPO_SIZES; do
  d=$WORK/repos-$n
  if [ ! -f "$d/.generated" ]; then
    rm -rf "$d"; python3 "$GEN" registry "$d" "$n" 4 2; touch "$d/.generated"
  fi
  measure repos "$n" "repos" "" "$W" --root "$d" repos
  measure repos "$n" "gc --dry-run" "" "$W" --root "$d" gc --dry-run
  measure repos "$n" "verify --quick" "" "$W" --root "$d" verify --quick
done

echo "== blobs (one layout)"
for n in $BLOB_SIZES; do
  d=$WORK/blobs-$n
  if [ ! -f "$d/.generated" ]; then
    # Each manifest: itself, a config and 2 layers = 4 blobs.
    rm -rf "$d"; python3 "$GEN" layout "$d" $((n / 4)) 2; touch "$d/.generated"
  fi
  measure blobs "$n" "gc --dry-run" "" "$W" --root "$d" gc --dry-run
  measure blobs "$n" "verify --quick" "" "$W" --root "$d" verify --quick
done

echo
echo "== table: median wall seconds [median CPU seconds, user+sys] (wall growth vs the previous size) / peak RSS"
echo "   (worst growth: the largest wall-time ratio between neighbouring sizes divided by their size ratio; 1.0 = linear)"
python3 benches/scale_table.py "$RESULTS"
