#!/usr/bin/env bash
# Peak RSS of `wharf import` on a 2 GiB docker-archive (one 2 GiB layer of random
# data), read from a file and, gzip-wrapped with WITH_GZIP=1, from stdin.
#   benches/import-rss.sh [WORKDIR]     (default /tmp/wharf-rss2g)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/wharf-rss2g}"
cargo build --release -q
wharf="$PWD/target/release/wharf"
mkdir -p "$work" && cd "$work"
if [ ! -f big.docker.tar ]; then
  head -c 2147483648 /dev/urandom > l.raw
  python3 - <<'PY'
import hashlib, json, os, tarfile
with tarfile.open("layer.tar", "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("big"); ti.size = os.path.getsize("l.raw"); ti.mtime = 0
    with open("l.raw", "rb") as f: t.addfile(ti, f)
os.remove("l.raw")
h = hashlib.sha256()
with open("layer.tar", "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
cfg = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h.hexdigest()]}}
json.dump(cfg, open("config.json", "w"))
json.dump([{"Config": "config.json", "RepoTags": ["big/app:2g"], "Layers": ["layer.tar"]}], open("manifest.json", "w"))
PY
  tar cf big.docker.tar manifest.json config.json layer.tar
  rm -f layer.tar manifest.json config.json
fi
rm -rf reg && "$wharf" --root reg init >/dev/null
/usr/bin/time -f "file:  %e s elapsed, peak RSS %M KiB" "$wharf" --root reg -q import big.docker.tar >/dev/null
if [ "${WITH_GZIP:-0}" = 1 ]; then
  rm -rf reg && "$wharf" --root reg init >/dev/null
  gzip -1 -c big.docker.tar > big.docker.tar.gz
  /usr/bin/time -f "stdin gzip: %e s elapsed, peak RSS %M KiB" "$wharf" --root reg -q import - < big.docker.tar.gz >/dev/null
fi
rm -rf reg
