#!/usr/bin/env python3
"""Data generator for benches/gc.sh (not used by tests).

  gc_gen.py layout DIR MANIFESTS LAYERS_PER_MANIFEST
      one OCI layout: MANIFESTS manifests, each with a config and LAYERS_PER_MANIFEST
      layers (all distinct, real gzip-compressed tars of a few bytes); index.json lists the first half, so half
      of the blobs are unreferenced.
  gc_gen.py registry DIR REPOS MANIFESTS_PER_REPO BASE_LAYERS
      a wharf registry of REPOS repositories whose manifests all share BASE_LAYERS base
      layers (one inode in the pool, hard-linked into every repository, as wharf's import
      links them); each manifest adds one own layer; half the manifests per repository
      are unreferenced; each repository has the sidecar wharf would have written.
  gc_gen.py tags DIR TAGS
      a wharf registry with one repository `app` of TAGS tags, each on its own manifest,
      tag i created i minutes after 2026-01-01 (index annotation), half of them `keep-*`.
"""
import datetime
import gzip
import hashlib
import io
import tarfile
import json
import os
import sys

START = datetime.datetime(2026, 1, 1)
LAYOUT = '{"imageLayoutVersion":"1.0.0"}\n'
CFG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MAN = "application/vnd.oci.image.manifest.v1+json"
IDX = "application/vnd.oci.image.index.v1+json"


def layer_bytes(text):
    """A real layer: a gzip-compressed tar of one small file holding `text` (so verify
    measures its checks, not the reporting of a finding per generated layer)."""
    data = text.encode()
    info = tarfile.TarInfo("f")
    info.size = len(data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        t.addfile(info, io.BytesIO(data))
    tar = buf.getvalue()
    return gzip.compress(tar, mtime=0), "sha256:" + hashlib.sha256(tar).hexdigest()


def put_layer(blobs, text):
    """Stores a layer; its descriptor carries the diff_id for the config."""
    gz, diff_id = layer_bytes(text)
    d = put(blobs, gz)
    d["diff_id"] = diff_id
    return d


def put(blobs, data):
    h = hashlib.sha256(data).hexdigest()
    p = os.path.join(blobs, h)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def layout_dir(d):
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        f.write(LAYOUT)
    return os.path.join(d, "blobs", "sha256")


def manifest(blobs, seed, layers):
    diff_ids = [l["diff_id"] for l in layers]
    cfg = put(blobs, json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "seed": seed}).encode())
    m = {"schemaVersion": 2, "mediaType": MAN, "config": dict(mediaType=CFG, **cfg),
         "layers": [dict(mediaType=LAYER, digest=l["digest"], size=l["size"]) for l in layers]}
    return dict(mediaType=MAN, **put(blobs, json.dumps(m).encode()))


def write_index(d, entries):
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": IDX, "manifests": entries}, f)


def gen_layout(d, n, per):
    blobs = layout_dir(d)
    entries = []
    for i in range(n):
        layers = [put_layer(blobs, f"layer {i} {j}") for j in range(per)]
        m = manifest(blobs, f"m{i}", layers)
        if i < n // 2:
            m["annotations"] = {"org.opencontainers.image.ref.name": f"t{i}"}
            entries.append(m)
    write_index(d, entries)


def gen_registry(d, repos, per_repo, base):
    pool = os.path.join(d, ".wharf", "blobs", "sha256")
    os.makedirs(pool, exist_ok=True)
    os.makedirs(os.path.join(d, ".wharf", "staging"), exist_ok=True)
    with open(os.path.join(d, ".wharf", "registry.json"), "w") as f:
        json.dump({"wharf_registry_version": 1, "retention": {}, "soft_delete": {}}, f)
    base_layers = [put_layer(pool, f"base layer {j} " * 64) for j in range(base)]
    for r in range(repos):
        rd = os.path.join(d, f"team/r{r:02d}")
        blobs = layout_dir(rd)
        for b in base_layers:
            os.link(os.path.join(pool, b["digest"][7:]), os.path.join(blobs, b["digest"][7:]))
        entries = []
        for i in range(per_repo):
            own = put_layer(blobs, f"repo {r} layer {i}")
            m = manifest(blobs, f"r{r}m{i}", base_layers + [own])
            if i < per_repo // 2:
                m["annotations"] = {"org.opencontainers.image.ref.name": f"t{i}"}
                entries.append(m)
        write_index(rd, entries)
        write_sidecar(rd, entries)


def write_sidecar(d, entries):
    """The sidecar wharf writes for these entries (docs/FORMAT.md section 4), so that a
    generated registry looks like one wharf made, not a foreign one to adopt."""
    t = "2026-01-01T00:00:00Z"
    tags = {e["annotations"]["org.opencontainers.image.ref.name"]:
            {"digest": e["digest"], "created": t, "updated": t, "created_source": "wharf"} for e in entries}
    manifests = {e["digest"]: {"created": t, "created_source": "wharf", "kind": "image"} for e in entries}
    meta = {"wharf_meta_version": 2, "repository": {"created": t, "updated": t},
            "tags": dict(sorted(tags.items())), "manifests": dict(sorted(manifests.items()))}
    with open(os.path.join(d, "wharf-meta.json"), "w") as f:
        json.dump(meta, f, indent=2)


def gen_tags(d, n):
    os.makedirs(os.path.join(d, ".wharf", "blobs", "sha256"), exist_ok=True)
    os.makedirs(os.path.join(d, ".wharf", "staging"), exist_ok=True)
    with open(os.path.join(d, ".wharf", "registry.json"), "w") as f:
        json.dump({"wharf_registry_version": 1, "retention": {}, "soft_delete": {}}, f)
    rd = os.path.join(d, "app")
    blobs = layout_dir(rd)
    layer = put_layer(blobs, "shared layer")
    entries = []
    for i in range(n):
        m = manifest(blobs, f"t{i}", [layer])
        name = f"keep-{i}" if i % 2 else f"build-{i}"
        created = (START + datetime.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        m["annotations"] = {"org.opencontainers.image.ref.name": name, "org.opencontainers.image.created": created}
        entries.append(m)
    write_index(rd, entries)


if __name__ == "__main__":
    kind, d = sys.argv[1], sys.argv[2]
    args = [int(a) for a in sys.argv[3:]]
    {"layout": gen_layout, "registry": gen_registry, "tags": gen_tags}[kind](d, *args)
