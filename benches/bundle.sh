#!/usr/bin/env bash
# Bundle benchmark: carrying a whole registry across an air gap.
#
# A registry of 10 repositories (one tag each) whose images share layers (~1 GiB of
# distinct blobs) is carried out and back in two ways:
#   wharf:  `wharf export --all -o bundle.tar`, then `wharf import bundle.tar` into a
#           fresh registry;
#   skopeo: `skopeo copy oci:SRC/REPO:1 oci-archive:REPO.tar` for each tag, then
#           `skopeo copy oci-archive:REPO.tar oci:DST/REPO:1` for each.
# Prints hyperfine medians, skopeo/wharf ratios, peak RSS (/usr/bin/time -v), and the
# bundle sizes: full, delta of an unchanged registry, delta after one new tag.
#
#   benches/bundle.sh [WORKDIR]                   (default /tmp/wharf-bench-bundle)
#   RUNS=5 BASE_MIB=180 UNIQUE_MIB=24 benches/bundle.sh
#
# Every timed run starts from an empty destination (hyperfine --prepare, with `sync`
# so no run pays for the previous one's writeback). wharf fsyncs what it writes;
# skopeo does not.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/wharf-bench-bundle}"
runs="${RUNS:-3}"
base_mib="${BASE_MIB:-180}"     # 4 shared base layers of this size
unique_mib="${UNIQUE_MIB:-24}"  # one unique layer per repository
repos=10
for t in skopeo hyperfine python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done

cargo build --release -q
wharf="$PWD/target/release/wharf"
mkdir -p "$work"
src="$work/src-reg"

gen() { # gen OUTDIR FIRST COUNT: layouts app$FIRST.. with tag 1
  python3 - "$1" "$2" "$3" "$base_mib" "$unique_mib" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, first, count, base_mib, unique_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pool = f"{out}/pool"
os.makedirs(pool, exist_ok=True)
def layer(name, mib):
    marker = f"{pool}/{name}.digest"
    if os.path.exists(marker):
        d = open(marker).read()
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d, "size": os.path.getsize(f"{pool}/{d}")}
    path = f"{pool}/{name}.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        left, n = mib << 20, 0
        while left > 0:
            chunk = min(left, 32 << 20)
            ti = tarfile.TarInfo(f"{name}/f{n}"); ti.size = chunk; ti.mtime = 0
            t.addfile(ti, io.BytesIO(os.urandom(chunk)))
            left -= chunk; n += 1
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    d = h.hexdigest()
    os.rename(path, f"{pool}/{d}")
    open(marker, "w").write(d)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d, "size": os.path.getsize(f"{pool}/{d}")}
for i in range(first, first + count):
    lay = f"{out}/app{i}"
    os.makedirs(f"{lay}/blobs/sha256", exist_ok=True)
    layers = [layer(f"base{i % 4}", base_mib), layer(f"base{(i + 1) % 4}", base_mib), layer(f"unique{i}", unique_mib)]
    for l in layers:
        dst = f"{lay}/blobs/sha256/{l['digest'][7:]}"
        if not os.path.exists(dst): os.link(f"{pool}/{l['digest'][7:]}", dst)
    def put(b):
        d = hashlib.sha256(b).hexdigest(); open(f"{lay}/blobs/sha256/{d}", "wb").write(b); return "sha256:" + d, len(b)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    cd, cs = put(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": layers}).encode()
    md, ms = put(man)
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
      "annotations": {"org.opencontainers.image.ref.name": "1"}}]}, open(f"{lay}/index.json", "w"))
    open(f"{lay}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}

if [ ! -d "$src" ] || [ "$(cat "$work/params" 2>/dev/null)" != "$base_mib/$unique_mib" ]; then
  echo "generating $repos repositories (4 shared ${base_mib} MiB layers, one ${unique_mib} MiB layer each) in $work ..." >&2
  rm -rf "$work/layouts" "$src"
  gen "$work/layouts" 0 "$repos"
  "$wharf" --root "$src" init >/dev/null
  for i in $(seq 0 $((repos - 1))); do
    "$wharf" --root "$src" -q import --repo "bench/app$i" --tag 1 "$work/layouts/app$i" >/dev/null
  done
  echo "$base_mib/$unique_mib" > "$work/params"
fi
distinct=$(du -sb "$src/.wharf/blobs" | cut -f1)
echo "source registry: $repos repositories, $((distinct >> 20)) MiB of distinct blobs" >&2

bundle="$work/bundle.tar"
dst="$work/dst-reg"
skout="$work/skopeo-out"
skin="$work/skopeo-in"
sk_out_cmd="for i in \$(seq 0 $((repos - 1))); do skopeo copy -q oci:$src/bench/app\$i:1 oci-archive:$skout/app\$i.tar:bench/app\$i:1; done"
sk_in_cmd="for i in \$(seq 0 $((repos - 1))); do skopeo copy -q oci-archive:$skout/app\$i.tar oci:$skin/app\$i:1; done"
prep_bundle="rm -f $bundle && sync"
prep_dst="rm -rf $dst && $wharf --root $dst init >/dev/null && sync"
prep_skout="rm -rf $skout && mkdir -p $skout && sync"
prep_skin="rm -rf $skin && mkdir -p $skin && sync"
hyperfine --runs "$runs" --export-json "$work/hyperfine.json" \
  --command-name "wharf export --all" --prepare "$prep_bundle" "$wharf --root $src -q export --all -o $bundle" \
  --command-name "skopeo copy out (10 tags -> oci-archive)" --prepare "$prep_skout" "$sk_out_cmd" \
  --command-name "wharf import bundle" --prepare "$prep_dst" "$wharf --root $dst -q import $bundle" \
  --command-name "skopeo copy in (10 oci-archives -> oci)" --prepare "$prep_skin" "$sk_in_cmd" \
  >&2

rss() { # peak RSS in MiB of one fresh run
  eval "$1" >/dev/null 2>&1
  /usr/bin/time -v bash -c "$2" 2>&1 >/dev/null | awk '/Maximum resident set size/ {printf "%.1f", $6/1024}'
}
rss_export=$(rss "$prep_bundle" "$wharf --root $src -q export --all -o $bundle")
rss_import=$(rss "$prep_dst" "$wharf --root $dst -q import $bundle")
rss_skout=$(rss "$prep_skout" "skopeo copy -q oci:$src/bench/app0:1 oci-archive:$skout/app0.tar:bench/app0:1")
rss_skin=$(rss "true" "skopeo copy -q oci-archive:$skout/app0.tar oci:$skin/app0:1")
eval "$sk_out_cmd"

# Sizes: full bundle, skopeo's archives, delta of an unchanged registry, delta after one new tag.
full=$(stat -c %s "$bundle")
skopeo_total=$(du -cb "$skout"/*.tar | tail -1 | cut -f1)
rm -f "$work/inv.json" "$work/delta0.tar" "$work/delta1.tar"
"$wharf" --root "$dst" -q inventory -o "$work/inv.json" >/dev/null
"$wharf" --root "$src" -q export --all --exclude-present "$work/inv.json" -o "$work/delta0.tar" >/dev/null
delta0=$(stat -c %s "$work/delta0.tar")
gen "$work/layouts" "$repos" 1
"$wharf" --root "$src" -q import --repo "bench/app$repos" --tag 1 "$work/layouts/app$repos" >/dev/null
"$wharf" --root "$src" -q export --all --exclude-present "$work/inv.json" -o "$work/delta1.tar" >/dev/null
delta1=$(stat -c %s "$work/delta1.tar")
"$wharf" --root "$dst" -q import "$work/delta1.tar" >/dev/null
"$wharf" --root "$dst" -q verify >/dev/null && echo "delta imported; verify exits 0" >&2
"$wharf" --root "$src" -q delete --repository "bench/app$repos" >/dev/null
"$wharf" --root "$src" -q gc --grace 0s >/dev/null   # the extra tag's blobs leave the pool too
rm -rf "$work/layouts/app$repos"

python3 - "$work/hyperfine.json" "$distinct" "$rss_export" "$rss_skout" "$rss_import" "$rss_skin" "$full" "$skopeo_total" "$delta0" "$delta1" "$unique_mib" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
distinct = int(sys.argv[2]) / (1 << 20)
rss = dict(zip(list(res), sys.argv[3:7]))
full, sk, d0, d1, uniq = (int(x) for x in sys.argv[7:12])
print(f"registry: 10 repositories, {distinct:.0f} MiB of distinct blobs; runs per command: {len(next(iter(res.values()))['times'])}")
print(f"{'command':42} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13}")
for name, r in res.items():
    print(f"{name:42} {r['median']:9.2f} {r['min']:7.2f} {r['max']:7.2f} {rss[name]:>13}")
m = {k: v["median"] for k, v in res.items()}
print(f"out:   skopeo/wharf median ratio = {m['skopeo copy out (10 tags -> oci-archive)'] / m['wharf export --all']:.1f}x")
print(f"in:    skopeo/wharf median ratio = {m['skopeo copy in (10 oci-archives -> oci)'] / m['wharf import bundle']:.1f}x")
tw = m['wharf export --all'] + m['wharf import bundle']
ts = m['skopeo copy out (10 tags -> oci-archive)'] + m['skopeo copy in (10 oci-archives -> oci)']
print(f"round trip: wharf {tw:.2f} s, skopeo {ts:.2f} s, ratio {ts / tw:.1f}x")
print(f"full bundle: {full / (1 << 20):.1f} MiB (skopeo's 10 archives: {sk / (1 << 20):.1f} MiB)")
print(f"delta of an unchanged registry: {d0 / 1024:.1f} KiB")
print(f"delta after one new tag (one new {uniq} MiB layer): {d1 / (1 << 20):.1f} MiB")
PY
