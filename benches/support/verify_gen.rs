//! Generates benchmark data for benches/verify.sh: a valid OCI image layout whose layers
//! are real gzip'd tar archives (stored, uncompressed deflate blocks, so generation is
//! fast) of pseudo-random bytes, with configs whose diff_ids match and tagged manifests.
//!
//! ```text
//! verify-gen large DIR TOTAL_MIB           ~TOTAL_MIB of layers, 1 MiB … 256 MiB each
//! verify-gen small DIR COUNT MIN_KIB MAX_KIB  COUNT layers of MIN…MAX KiB, 100 per image
//! verify-gen one DIR MIB                  one image with a single layer of MIB
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

/// xorshift64*: fast, deterministic filler bytes.
struct Noise {
    state: u64,
    left: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes what passes through.
struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

struct Out {
    dir: PathBuf,
    seq: u64,
}

impl Out {
    fn blobs(&self) -> PathBuf {
        self.dir.join("blobs/sha256")
    }

    fn put(&self, bytes: &[u8]) -> (String, u64) {
        let mut h = Sha256::new();
        h.update(bytes);
        let hx = hex(h);
        fs::write(self.blobs().join(&hx), bytes).unwrap();
        (format!("sha256:{hx}"), bytes.len() as u64)
    }

    /// One gzip'd tar layer holding `size` bytes of noise: (digest, size, diff_id).
    fn layer(&mut self, size: u64) -> (String, u64, String) {
        self.seq += 1;
        let tmp = self.dir.join(format!(".gen-{}", self.seq));
        let file = HashWriter { inner: io::BufWriter::new(File::create(&tmp).unwrap()), hasher: Sha256::new(), len: 0 };
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::none());
        let tar_out = HashWriter { inner: gz, hasher: Sha256::new(), len: 0 };
        let mut b = tar::Builder::new(tar_out);
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        let noise = Noise { state: 0x9e37_79b9_7f4a_7c15 ^ self.seq.wrapping_mul(0x1234_5678_9abc_def1), left: size };
        b.append_data(&mut h, format!("data/{}", self.seq), noise).unwrap();
        let tar_out = b.into_inner().unwrap();
        let diff_id = format!("sha256:{}", hex(tar_out.hasher));
        let mut file = tar_out.inner.finish().unwrap();
        file.flush().unwrap();
        let digest = hex(file.hasher);
        let len = file.len;
        drop(file.inner);
        fs::rename(&tmp, self.blobs().join(&digest)).unwrap();
        (format!("sha256:{digest}"), len, diff_id)
    }

    fn image(&mut self, layer_sizes: &[u64]) -> serde_json::Value {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for &s in layer_sizes {
            let (d, n, id) = self.layer(s);
            layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}));
            diff_ids.push(id);
        }
        let config =
            json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let (cd, cn) = self.put(&serde_json::to_vec(&config).unwrap());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
            "layers": layers,
        });
        let (md, mn) = self.put(&serde_json::to_vec(&manifest).unwrap());
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn})
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: verify-gen large DIR TOTAL_MIB | small DIR COUNT MIN_KIB MAX_KIB | one DIR MIB";
    let (mode, dir) = match args.as_slice() {
        [_, mode, dir, ..] => (mode.as_str(), Path::new(dir)),
        _ => panic!("{usage}"),
    };
    let num = |i: usize| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{usage}")) };
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut out = Out { dir: dir.to_path_buf(), seq: 0 };
    let mib = 1u64 << 20;
    let images: Vec<Vec<u64>> = match mode {
        "large" => {
            // A realistic spread: a few big layers, many middling and small ones.
            let pattern =
                [256u64, 192, 160, 128, 128, 96, 96, 64, 64, 64, 48, 48, 32, 32, 32, 16, 16, 8, 8, 4, 4, 2, 1, 1];
            let scale = num(3) as f64 / pattern.iter().sum::<u64>() as f64;
            let sizes: Vec<u64> = pattern.iter().map(|m| ((*m as f64 * scale) as u64).max(1) * mib).collect();
            sizes.chunks(8).map(|c| c.to_vec()).collect()
        }
        "small" => {
            let (count, min, max) = (num(3), num(4) * 1024, num(5) * 1024);
            let mut noise = Noise { state: 0x51_7cc1_b727_220a, left: u64::MAX };
            let mut sizes = Vec::new();
            for _ in 0..count {
                let mut b = [0u8; 8];
                noise.read_exact(&mut b).unwrap();
                // Layer blob size ≈ content + 1.5 KiB of tar and gzip framing.
                let blob = min + u64::from_le_bytes(b) % (max - min + 1);
                sizes.push(blob.saturating_sub(1536).max(1));
            }
            sizes.chunks(100).map(|c| c.to_vec()).collect()
        }
        "one" => vec![vec![num(3) * mib]],
        _ => panic!("{usage}"),
    };
    let mut index = Vec::new();
    for (i, sizes) in images.iter().enumerate() {
        let mut d = out.image(sizes);
        d["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{i}")});
        index.push(d);
    }
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
    fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&idx).unwrap()).unwrap();
}
