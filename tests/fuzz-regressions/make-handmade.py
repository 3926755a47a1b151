#!/usr/bin/env python3
"""Writes the hand-made hostile inputs of tests/fuzz-regressions/<target>/ (the files
named `handmade-*`). Inputs found by the fuzzers are committed as they were found, named
after the defect they pin; this script does not touch them. Run from anywhere; the
output is deterministic (fixed tar mtimes, gzip without a timestamp)."""
import gzip, io, json, os, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
Z = "sha256:" + "0" * 64


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "handmade-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, body in members:
            body = body if isinstance(body, bytes) else body.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(body), 0, 0o644
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()


# import_tar
write("import_tar", "empty-source", b"")
write("import_tar", "zero-blocks", b"\0" * 1024)
write("import_tar", "not-an-archive", b"hello, not a tar at all\n" * 40)
write("import_tar", "traversal-member.tar", tar([("../evil", "x"), ("index.json", "{}")]))
write("import_tar", "absolute-member.tar", tar([("/etc/evil", "x")]))
write("import_tar", "index-not-json.tar", tar([("oci-layout", '{"imageLayoutVersion":"1.0.0"}'), ("index.json", "nope")]))
write("import_tar", "manifest-json-null.tar", tar([("manifest.json", "null")]))
write("import_tar", "index-names-missing-blob.tar", tar([
    ("oci-layout", '{"imageLayoutVersion":"1.0.0"}'),
    ("index.json", json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": Z, "size": 2,
        "annotations": {"org.opencontainers.image.ref.name": "x:1"}}]})),
]))
write("import_tar", "gzip-of-garbage.gz", gzip.compress(b"\x01garbage" * 200, mtime=0))
write("import_tar", "truncated-gzip.gz", gzip.compress(tar([("a", "b" * 4000)]), mtime=0)[:300])

# document
write("document", "empty-object.json", "{}")
write("document", "not-json", "nope")
write("document", "deep-arrays.json", "[" * 100000 + "]" * 100000)
write("document", "deep-unknown-field.json", '{"x":' * 100000 + '1' + '}' * 100000)
write("document", "deep-manifests.json", '{"manifests":' + "[" * 50000)
write("document", "bad-blobsum.json", '{"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:xyz"}]}')
write("document", "huge-size.json", json.dumps({"schemaVersion": 2, "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json", "digest": Z, "size": 18446744073709551616}}))

# reference
write("reference", "traversal", "../x:1")
write("reference", "host-with-port", "localhost:5000/app:1")
write("reference", "bare-repo", "alpine")
write("reference", "sha512-digest", "alpine@sha512:" + "ab" * 64)
write("reference", "not-utf8", b"app:\xff\xfe")
write("reference", "overlong-tag", "app:" + "a" * 129)

# purge_filter
write("purge_filter", "no-colon", "noColon")
write("purge_filter", "bad-tag-regex", "app:(")
write("purge_filter", "huge-repetition", "a{1000}{1000}{1000}:.*")
write("purge_filter", "ago-not-a-duration", ".*:.*\nago=30x")
write("purge_filter", "both-untagged-flags", ".*:.*\nuntagged\nuntagged-only")

# state_file (first byte: 0 = a repository's wharf-meta.json, 1 = .wharf/registry.json)
write("state_file", "sidecar-not-json", b"\0nope")
write("state_file", "sidecar-future-version", b'\0{"wharf_meta_version":99}')
write("state_file", "sidecar-wrong-shape", b'\0{"wharf_meta_version":1,"repository":[]}')
write("state_file", "registry-not-json", b"\1[")
write("state_file", "registry-future-version", b'\1{"wharf_registry_version":2}')
write("state_file", "registry-wrong-shape", b'\1{"wharf_registry_version":1,"retention":{"untagged_days":-1}}')

# import_layout (blobs separated by "\n--\n"; $D<j>/$S<j> = digest/size of blob j)
LAYER = b"\0" * 1024  # an empty tar
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["$D0"]}}'
OCI_MANIFEST = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$D1","size":$S1},'
                b'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$D0","size":$S0}]}')


def blobs(*parts):
    return b"\n--\n".join(parts)


write("import_layout", "valid-image", blobs(LAYER, CONFIG, OCI_MANIFEST))
write("import_layout", "valid-index", blobs(LAYER, CONFIG, OCI_MANIFEST,
      b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":'
      b'"application/vnd.oci.image.manifest.v1+json","digest":"$D2","size":$S2,'
      b'"platform":{"os":"linux","architecture":"amd64"}}]}'))
write("import_layout", "manifest-not-json", blobs(b"nope"))
write("import_layout", "config-missing", blobs(LAYER,
      b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
      b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
      + b"0" * 64 + b'","size":2},"layers":[]}'))
write("import_layout", "layer-size-lies", blobs(LAYER, CONFIG,
      OCI_MANIFEST.replace(b'"size":$S0', b'"size":7')))

# issue 8 defect 6 (the fuzzer found it as a schema 1 document declared an OCI manifest)
write("import_layout", "manifest-with-fslayers", blobs(LAYER, CONFIG,
      OCI_MANIFEST[:-1] + b',"fsLayers":[{"blobSum":"$D0"}]}'))
write("import_layout", "index-with-fslayers", blobs(LAYER,
      b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],'
      b'"fsLayers":[{"blobSum":"$D0"}]}'))
