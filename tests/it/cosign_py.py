#!/usr/bin/env python3
"""An independent implementation of cosign's signature format (sigstore/cosign
specs/SIGNATURE_SPEC.md) for wharf's tests, on Python's `cryptography` and `pynacl`.
It shares no code with wharf. The tests drive it:

  keygen ALG DIR                      ALG.key (PKCS#8 PEM) and ALG.pub (PKIX PEM) in DIR
  encrypt KEY PASSPHRASE OUT          KEY as cosign's ENCRYPTED SIGSTORE PRIVATE KEY
  sign-layout KEY IMAGE IDENTITY OUT [--payload-digest D] [--sig good|garbage|truncated]
                                      [--subject D] [--pad N]
                                      an OCI layout holding IMAGE's .sig manifest
  verify-http HOST REPO IMAGE PUB     fetch REPO:sha256-<hex>.sig over plain HTTP and
                                      verify it by PUB; exit 0 when a layer verifies
"""

import base64
import hashlib
import json
import os
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def keygen(alg, out):
    if alg == "p256":
        k = ec.generate_private_key(ec.SECP256R1())
    elif alg == "rsa":
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ed25519":
        k = ed25519.Ed25519PrivateKey.generate()
    else:
        raise SystemExit("unknown algorithm " + alg)
    with open(os.path.join(out, alg + ".key"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    with open(os.path.join(out, alg + ".pub"), "wb") as f:
        f.write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo))


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign(key, payload):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(payload, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(payload)


def verify(pub, sig, payload):
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(pub, rsa.RSAPublicKey):
            pub.verify(sig, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            pub.verify(sig, payload)
        return True
    except InvalidSignature:
        return False


def pem(label, der):
    b = base64.b64encode(der).decode()
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def encrypt(key_path, passphrase, out):
    import nacl.secret
    import nacl.utils
    der = load_key(key_path).private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    salt = os.urandom(32)
    n, r, p = 32768, 8, 1
    box_key = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 << 20)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = nacl.secret.SecretBox(box_key).encrypt(der, nonce).ciphertext
    env = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    with open(out, "w") as f:
        f.write(pem("ENCRYPTED SIGSTORE PRIVATE KEY", json.dumps(env).encode()))


def put_blob(layout, data):
    d = sha(data)
    path = os.path.join(layout, "blobs", "sha256", d[7:])
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": d, "size": len(data)}


def sign_layout(key_path, image, identity, out, opts):
    key = load_key(key_path)
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    named = opts.get("payload-digest", image)
    payload = {
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": named},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    if "pad" in opts:
        payload["optional"] = {"pad": "x" * int(opts["pad"])}
    payload = json.dumps(payload, separators=(",", ":")).encode()
    sig = sign(key, payload)
    kind = opts.get("sig", "good")
    if kind == "garbage":
        sig = b"\x00garbage\xff" * 4
    elif kind == "truncated":
        sig = sig[: len(sig) // 2]
    layer = put_blob(out, payload)
    layer["mediaType"] = SIMPLESIGNING
    layer["annotations"] = {SIG_ANNOTATION: base64.b64encode(sig).decode()}
    config = json.dumps({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }, separators=(",", ":")).encode()
    cdesc = put_blob(out, config)
    cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cdesc,
        "layers": [layer],
    }
    if "subject" in opts:
        manifest["subject"] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": opts["subject"], "size": 1}
    mbytes = json.dumps(manifest, separators=(",", ":")).encode()
    mdesc = put_blob(out, mbytes)
    mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "sha256-%s.sig" % image[7:]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)


def get(url, accept=None):
    req = urllib.request.Request(url)
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def verify_http(host, repo, image, pub_path):
    with open(pub_path, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    base = "http://%s/v2/%s" % (host, repo)
    m = json.loads(get("%s/manifests/sha256-%s.sig" % (base, image[7:]),
                       "application/vnd.oci.image.manifest.v1+json"))
    for layer in m["layers"]:
        if layer["mediaType"] != SIMPLESIGNING:
            continue
        payload = get("%s/blobs/%s" % (base, layer["digest"]))
        if sha(payload) != layer["digest"]:
            continue
        sig = base64.b64decode(layer["annotations"][SIG_ANNOTATION])
        doc = json.loads(payload)
        if (verify(pub, sig, payload)
                and doc["critical"]["image"]["docker-manifest-digest"] == image
                and doc["critical"]["type"] == "cosign container image signature"):
            print("verified", layer["digest"])
            return 0
    print("no layer verifies")
    return 1


def main(argv):
    cmd, args = argv[1], argv[2:]
    opts = {}
    pos = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if cmd == "keygen":
        keygen(*pos)
    elif cmd == "encrypt":
        encrypt(*pos)
    elif cmd == "sign-layout":
        sign_layout(*pos, opts)
    elif cmd == "verify-http":
        return verify_http(*pos)
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
