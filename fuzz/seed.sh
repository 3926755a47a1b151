#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from testdata/, the shared public fixtures (read in place,
# never copied into the repository) and a few hand-written inputs. Corpora are not
# committed (fuzz/.gitignore); run this before the first `cargo fuzz run`. Idempotent:
# seeds are named after their content's hash.
#
#   fuzz/seed.sh [FIXTURES_DIR]     (default: ../shared/fixtures/public next to the checkout)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
fixtures="${1:-$repo/../shared/fixtures/public}"
corpus="$here/corpus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# seed TARGET FILE: copy FILE into the target's corpus under its hash.
seed() {
    mkdir -p "$corpus/$1"
    cp "$2" "$corpus/$1/seed-$(sha1sum "$2" | cut -c1-16)"
}
# seed_text TARGET TEXT: a hand-written seed.
seed_text() {
    printf '%s' "$2" > "$work/text"
    seed "$1" "$work/text"
}

# ---- import_tar: archives as they are, compressed, and tarred layouts ----
archives=("$repo"/testdata/*.tar)
if [ -d "$fixtures" ]; then
    while IFS= read -r -d '' f; do archives+=("$f"); done < <(find "$fixtures" -name '*.tar' -print0)
    for layout in "$fixtures"/regclient/testrepo "$fixtures"/regclient/external; do
        [ -d "$layout" ] || continue
        tar -C "$layout" -cf "$work/layout-$(basename "$layout").tar" .
        archives+=("$work/layout-$(basename "$layout").tar")
    done
else
    echo "note: $fixtures is absent; seeding from testdata only" >&2
fi
for a in "${archives[@]}"; do
    seed import_tar "$a"
done
for a in "$repo"/testdata/*.tar; do
    gzip -9 -c "$a" > "$work/x.gz" && seed import_tar "$work/x.gz"
    if command -v zstd >/dev/null; then zstd -q -c "$a" > "$work/x.zst" && seed import_tar "$work/x.zst"; fi
    if command -v xz >/dev/null; then xz -c "$a" > "$work/x.xz" && seed import_tar "$work/x.xz"; fi
    if command -v bzip2 >/dev/null; then bzip2 -c "$a" > "$work/x.bz2" && seed import_tar "$work/x.bz2"; fi
done

# ---- document: every JSON document inside those archives and layouts ----
mkdir -p "$work/x"
for a in "$repo"/testdata/*.tar "${archives[@]}"; do
    rm -rf "$work/x" && mkdir -p "$work/x"
    tar -C "$work/x" -xf "$a" 2>/dev/null || continue
    while IFS= read -r -d '' f; do
        size=$(stat -c %s "$f")
        if [ "$size" -gt 0 ] && [ "$size" -lt 65536 ] && [ "$(head -c1 "$f")" = "{" ]; then
            seed document "$f"
        fi
    done < <(find "$work/x" -type f -print0)
done
seed_text document '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","fsLayers":[{"blobSum":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}'
seed_text document '{"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}'

# ---- reference: the grammars ----
d=sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4
for s in library/alpine:3.19 "app@$d" "team/app:1@$d" docker.io/library/alpine:3 \
    localhost:5000/team/app:1 ../x:1 "x@$d" a__b.c--d/e:V1_x "$d" linux/arm64/v8 \
    7d 1d12h30m45s 100000000d 2026-01-31T12:00:00+01:00 2026-01-31 "+10000-01-01"; do
    seed_text reference "$s"
done

# ---- purge_filter: filter lines and options ----
seed_text purge_filter $'team/.*:v.*\nago=30d\nkeep=1'
seed_text purge_filter $'(?:library|x)/?.*:[^:]*\nuntagged\ninclude-locked'
seed_text purge_filter $'.*:.*\nago=0s\nuntagged-only'
seed_text purge_filter $'[:a]+:(?:1|latest)\nago=1d12h'

# ---- state_file: a real sidecar (first byte 0) and registry.json (first byte 1) ----
wharf="$repo/target/debug/wharf"
if [ -x "$wharf" ]; then
    "$wharf" --root "$work/reg" init >/dev/null
    "$wharf" --root "$work/reg" import --repo app --tag v1 "$repo/testdata/hello.oci-archive.tar" >/dev/null
    "$wharf" --root "$work/reg" tag app:v1 app:v2 >/dev/null
    "$wharf" --root "$work/reg" lock app:v2 >/dev/null
    { printf '\0'; cat "$work/reg/app/wharf-meta.json"; } > "$work/s" && seed state_file "$work/s"
    { printf '\1'; cat "$work/reg/.wharf/registry.json"; } > "$work/s" && seed state_file "$work/s"
else
    echo "note: $wharf is not built; state_file gets hand-written seeds only" >&2
fi
seed_text state_file $'\x01{"wharf_registry_version":1,"retention":{"untagged_days":7},"soft_delete":{"days":3}}'
{ printf '\0'; printf '%s' '{"wharf_meta_version":1,"repository":{"created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z"},"tags":{},"manifests":{}}'; } > "$work/s"
seed state_file "$work/s"

# ---- import_layout: blobs separated by "\n--\n", $D<j>/$S<j> = digest/size of blob j ----
layer="$work/layer.tar"
head -c 1024 /dev/zero > "$layer"
cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["$D0"]}}'
man='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$D1","size":$S1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$D0","size":$S0}]}'
dman='{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"$D1","size":$S1},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"$D0","size":$S0}]}'
idx='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$D2","size":$S2,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}'
s1='{"schemaVersion":1,"name":"x","tag":"1","architecture":"amd64","fsLayers":[{"blobSum":"$D0"}],"history":[{"v1Compatibility":"{}"}]}'
ref='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"$D1","size":$S1},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$D2","size":$S2}}'
{ cat "$layer"; printf '\n--\n%s\n--\n%s' "$cfg" "$man"; } > "$work/s" && seed import_layout "$work/s"
{ cat "$layer"; printf '\n--\n%s\n--\n%s' "$cfg" "$dman"; } > "$work/s" && seed import_layout "$work/s"
{ cat "$layer"; printf '\n--\n%s\n--\n%s\n--\n%s' "$cfg" "$man" "$idx"; } > "$work/s" && seed import_layout "$work/s"
{ cat "$layer"; printf '\n--\n%s' "$s1"; } > "$work/s" && seed import_layout "$work/s"
{ cat "$layer"; printf '\n--\n{}\n--\n%s\n--\n%s' "$man" "$ref"; } > "$work/s" && seed import_layout "$work/s"

# ---- every committed regression input seeds its target too ----
for dir in "$repo"/tests/fuzz-regressions/*/; do
    t="$(basename "$dir")"
    for f in "$dir"*; do [ -f "$f" ] && seed "$t" "$f"; done
done

for t in "$corpus"/*; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
