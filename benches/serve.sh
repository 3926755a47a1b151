#!/usr/bin/env bash
# `wharf serve` against distribution 2.8 (Debian's docker-registry) serving the same
# content from its own storage, side by side on loopback, plain HTTP.
#
#   benches/serve.sh [WORKDIR]            (default /tmp/wharf-bench-serve)
#   RUNS=5 BIG_MIB=1024 HEADS=1000 CONNS=100 benches/serve.sh
#   WHARF=target/debug/wharf RUNS=3 benches/serve.sh   (a quick look, without the release build)
#
# Cases (median of RUNS):
#   1. GET of one BIG_MIB blob (random bytes) with curl to /dev/null: MiB/s.
#   2. HEADS HEAD requests of the manifest, one curl process, one kept-alive connection.
#   3. CONNS concurrent connections each streaming the big blob while reading slowly: the
#      server's peak RSS (VmHWM), which for wharf must stay under 64 MiB.
set -euo pipefail

WORK=${1:-/tmp/wharf-bench-serve}
RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
HEADS=${HEADS:-1000}
CONNS=${CONNS:-100}
HERE=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${WHARF:-}" ]; then   # WHARF=path/to/wharf measures that binary instead
    cargo build --release --manifest-path "$HERE/Cargo.toml" >&2
    WHARF="$HERE/target/release/wharf"
fi
for t in curl python3 /usr/bin/docker-registry; do
    command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done

rm -rf "$WORK"
mkdir -p "$WORK"
REG="$WORK/reg"
"$WHARF" --root "$REG" init >/dev/null
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/big.bin"
"$WHARF" --root "$REG" add bench/big:1 "$WORK/big.bin" >/dev/null
BLOB="sha256:$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)"
rm "$WORK/big.bin"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do curl -s -o /dev/null "http://$1/v2/" && return 0; sleep 0.05; done; echo "nothing on $1" >&2; exit 1; }

DPORT=$(free_port)
mkdir -p "$WORK/dist"
cat > "$WORK/dist.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/dist
http:
  addr: 127.0.0.1:$DPORT
EOF
/usr/bin/docker-registry serve "$WORK/dist.yml" >"$WORK/dist.log" 2>&1 &
DPID=$!
WPORT=$(free_port)
"$WHARF" --root "$REG" serve --addr "127.0.0.1:$WPORT" 2>"$WORK/wharf.log" >/dev/null &
WPID=$!
trap 'kill $DPID $WPID 2>/dev/null || true' EXIT
wait_port "127.0.0.1:$DPORT"
wait_port "127.0.0.1:$WPORT"
"$WHARF" --root "$REG" push bench/big:1 --to "127.0.0.1:$DPORT" --plain-http >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }

blob_secs() { # HOSTPORT -> seconds of one GET
    curl -s -o /dev/null -w '%{time_total}\n' "http://$1/v2/bench/big/blobs/$BLOB"
}
heads_secs() { # HOSTPORT -> seconds of HEADS HEADs on one connection
    local cfg="$WORK/heads.cfg"
    : > "$cfg"
    for _ in $(seq "$HEADS"); do
        printf 'url = "http://%s/v2/bench/big/manifests/1"\noutput = "/dev/null"\n' "$1" >> "$cfg"
    done
    local t0 t1
    t0=$(date +%s.%N)
    curl -s -I -K "$cfg" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
rss_mib() { # PID HOSTPORT -> peak RSS (MiB) while CONNS connections stream the blob slowly
    python3 - "$1" "$2" "$CONNS" "$BLOB" <<'PY'
import socket, sys, threading, time
pid, host, conns, blob = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
h, p = host.split(":")
def hwm():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
peak = [hwm()]
def client():
    s = socket.create_connection((h, int(p)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    s.sendall(f"GET /v2/bench/big/blobs/{blob} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    got = 0
    for _ in range(40):             # read slowly: 256 KiB every 50 ms, 10 MiB in all
        got += len(s.recv(256 << 10))
        time.sleep(0.05)
    s.close()
threads = [threading.Thread(target=client) for _ in range(conns)]
for t in threads: t.start()
while any(t.is_alive() for t in threads):
    peak.append(hwm()); time.sleep(0.05)
print(f"{max(peak):.1f}")
PY
}

declare -A R
for who in wharf dist; do
    if [ $who = wharf ]; then hp="127.0.0.1:$WPORT"; pid=$WPID; else hp="127.0.0.1:$DPORT"; pid=$DPID; fi
    blob_secs "$hp" >/dev/null   # warm the page cache
    R[$who.blob]=$(for _ in $(seq "$RUNS"); do blob_secs "$hp"; done | median)
    R[$who.heads]=$(for _ in $(seq "$RUNS"); do heads_secs "$hp"; done | median)
    R[$who.rss]=$(rss_mib "$pid" "$hp")
done

mibs() { echo "$BIG_MIB / $1" | bc -l; }
printf '%-34s %12s %12s %8s\n' "case (median of $RUNS)" wharf distribution ratio
printf '%-34s %12.0f %12.0f %8.2f\n' "GET ${BIG_MIB} MiB blob, MiB/s" "$(mibs "${R[wharf.blob]}")" "$(mibs "${R[dist.blob]}")" \
    "$(echo "${R[dist.blob]} / ${R[wharf.blob]}" | bc -l)"
printf '%-34s %12.3f %12.3f %8.2f\n' "$HEADS HEADs, seconds" "${R[wharf.heads]}" "${R[dist.heads]}" \
    "$(echo "${R[dist.heads]} / ${R[wharf.heads]}" | bc -l)"
printf '%-34s %12.1f %12.1f %8.2f\n' "peak RSS, $CONNS slow streams, MiB" "${R[wharf.rss]}" "${R[dist.rss]}" \
    "$(echo "${R[dist.rss]} / ${R[wharf.rss]}" | bc -l)"
echo "(ratio > 1: wharf is faster / smaller)"
