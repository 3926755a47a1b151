#!/usr/bin/env bash
# Peak RSS of wharf on hostile inputs at their caps (issue 16 B5): each case runs once
# under /usr/bin/time -v and prints its peak RSS (MiB), the exit code, and OK when
# under the 256 MiB target.
#
#   benches/hostile-rss.sh [WORKDIR]          (default /tmp/wharf-bench-hostile-rss)
#   WHARF=target/debug/wharf benches/hostile-rss.sh   (skip the release build)
#
# Cases:
#   config-16mib-import   import of an image whose config is 16 MiB of `[0,0,…]` junk
#   config-16mib-show     `show` of that image (reads the config for its platform)
#   targz-bomb            import of that layout as a gzip'd oci-archive (~17 KB: the
#                         16 MiB config compresses ~1000:1; the field test's 17,433-byte
#                         .tar.gz cost 2.38 GB)
#   index-200mib-tags     `tags` of a repository whose index.json is 200 MiB of entries
#   index-200mib-repos    `repos` over that registry (the field test: 9.7 / 11.4 GB)
#   index-cap-field-tags  `tags` of an index.json just under the 64 MiB cap, one entry
#                         carrying a 63 MiB unknown field of `[0,0,…]`
#   index-cap-field-repos `repos` over that one
#   index-cap-many-tags   `tags` of an index.json just under the cap, all entries (~300k
#                         tags of one manifest): the cap's worst case, not a B5 case
#   inventory-zeros       `export --exclude-present` with a 201 MiB inventory of `[0,0,…]`
#                         (the field test's case; it cost 9.67 GB)
#
# Pulling a 16 MiB config from a local distribution is not measured here (the import
# and show cases cover the same config reader).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/wharf-bench-hostile-rss}"
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time" >&2; exit 2; }
if [ -z "${WHARF:-}" ]; then
  cargo build --release -q
  WHARF="$PWD/target/release/wharf"
fi
rm -rf "$work"; mkdir -p "$work"

python3 - "$work" <<'PY'
import hashlib, json, os, sys, tarfile, io
work = sys.argv[1]
def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
# A one-layer image whose config carries 16 MiB (minus a little) of `0,` junk.
data = b"file"
ti = tarfile.TarInfo("f"); ti.size = len(data)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t: t.addfile(ti, io.BytesIO(data))
layer = buf.getvalue()
head = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}, "config": {}})[:-1].encode()
n = ((16 << 20) - len(head) - 64) // 2
config = head + b',"junk":[' + b"0," * (n - 1) + b"0]}"
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": len(layer)}]}).encode()
d = os.path.join(work, "layout"); os.makedirs(os.path.join(d, "blobs/sha256"))
for b in (layer, config, manifest):
    open(os.path.join(d, "blobs/sha256", sha(b)[7:]), "wb").write(b)
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
open(os.path.join(d, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": [
  {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest), "size": len(manifest),
   "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
PY

tar -C "$work/layout" -czf "$work/bomb.tar.gz" oci-layout index.json blobs
echo "bomb.tar.gz: $(stat -c %s "$work/bomb.tar.gz") bytes"

# index.json files: 200 MiB of entries (over the cap), and two just under the cap.
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
m = json.load(open(os.path.join(work, "layout/index.json")))["manifests"][0]
def entry(i, extra=""):
    return ('{"mediaType":"%s","digest":"%s","size":%d%s,"annotations":{"org.opencontainers.image.ref.name":"t%d"}}'
            % (m["mediaType"], m["digest"], m["size"], extra, i)).encode()
def write(path, limit, extra_of):
    with open(path, "wb") as f:
        f.write(b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[')
        n, i = 120, 0
        while True:
            e = entry(i, extra_of(i))
            if n + len(e) + 3 > limit: break
            f.write((b"," if i else b"") + e); n += len(e) + 1; i += 1
        f.write(b"]}")
write(os.path.join(work, "index-200mib.json"), 200 << 20, lambda i: "")
write(os.path.join(work, "index-cap-many.json"), (64 << 20) - 1024, lambda i: "")
count = ((63 << 20) - 2) // 2
with open(os.path.join(work, "index-cap-field.json"), "wb") as f:
    f.write(b'{"schemaVersion":2,"manifests":[')
    f.write(entry(0, ',"x-junk":[' + "0," * (count - 1) + "0]"))
    f.write(b"]}")
PY

python3 - "$work/inventory.json" <<'PY'
import sys
path = sys.argv[1]
n = 201 << 20
count = (n - 2) // 2
with open(path, "wb") as f:
    f.write(b"[")
    f.write(b"0," * (count - 1))
    f.write(b"0]")
PY

root="$work/root"
"$WHARF" --root "$root" init >/dev/null
run() {
  local name="$1"; shift
  local rc=0
  /usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  local kb
  kb=$(grep "Maximum resident set size" "$work/$name.err" | awk '{print $NF}')
  local mib=$((kb / 1024))
  local verdict="OK"
  [ "$mib" -lt 256 ] || verdict="OVER 256 MiB"
  printf '%-24s peak RSS %6d MiB  exit %d  %s\n' "$name" "$mib" "$rc" "$verdict"
}
run config-16mib-import "$WHARF" --root "$root" import "$work/layout" --repo app
run config-16mib-show "$WHARF" --root "$root" show app:1
run targz-bomb "$WHARF" --root "$root" import "$work/bomb.tar.gz" --repo bomb
# A registry per index.json case: the repository's index.json replaced by the file.
for case in 200mib cap-field cap-many; do
  r="$work/root-$case"
  "$WHARF" --root "$r" init >/dev/null
  "$WHARF" --root "$r" import "$work/layout" --repo big >/dev/null
  cp "$work/index-$case.json" "$r/big/index.json"
done
run index-200mib-tags "$WHARF" --root "$work/root-200mib" tags big
run index-200mib-repos "$WHARF" --root "$work/root-200mib" repos
run index-cap-field-tags "$WHARF" --root "$work/root-cap-field" tags big
run index-cap-field-repos "$WHARF" --root "$work/root-cap-field" repos
run index-cap-many-tags "$WHARF" --root "$work/root-cap-many" tags big
run inventory-zeros "$WHARF" --root "$root" export --all --exclude-present "$work/inventory.json" -o "$work/delta.tar"
