//! `--htpasswd FILE`: the bcrypt htpasswd file distribution reads (`htpasswd -B`), checked
//! against HTTP Basic credentials. A bcrypt check costs milliseconds by design, so a pair
//! that passed is remembered (by its SHA-256, never in clear) until the cache is full.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// Pairs remembered before the cache starts over.
const CACHE_MAX: usize = 1024;
/// Largest htpasswd file read.
const MAX_FILE: u64 = 1 << 20;

/// The users of an htpasswd file.
#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    passed: Mutex<HashSet<[u8; 32]>>,
}

impl Htpasswd {
    /// Reads `path`: `user:hash` lines, every hash bcrypt (`$2y$`, `$2b$`, `$2a$`).
    /// Blank lines and `#` comments are skipped; anything else is refused naming the line.
    pub fn load(path: &Path) -> Result<Htpasswd> {
        let bytes = crate::store::fs::read_limited(path, MAX_FILE)?;
        let text = String::from_utf8(bytes).map_err(|_| bad(path, 0, "is not UTF-8 text"))?;
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(bad(path, i + 1, "is not `user:hash`"));
            };
            if user.is_empty() {
                return Err(bad(path, i + 1, "has an empty user name"));
            }
            if !["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
                return Err(bad(
                    path,
                    i + 1,
                    &format!("holds a hash for `{user}` that is not bcrypt; make the file with `htpasswd -B`"),
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd { users, passed: Mutex::new(HashSet::new()) })
    }

    /// The user an `Authorization` header value authenticates, if any.
    pub fn check(&self, authorization: Option<&[u8]>) -> Option<String> {
        let value = std::str::from_utf8(authorization?).ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        let (user, password) = pair.split_once(':')?;
        let hash = self.users.get(user)?;
        let key: [u8; 32] =
            Sha256::new().chain_update(hash.as_bytes()).chain_update([0]).chain_update(&pair).finalize().into();
        if self.passed.lock().expect("cache lock").contains(&key) {
            return Some(user.to_string());
        }
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return None;
        }
        let mut passed = self.passed.lock().expect("cache lock");
        if passed.len() >= CACHE_MAX {
            passed.clear();
        }
        passed.insert(key);
        Some(user.to_string())
    }
}

fn bad(path: &Path, line: usize, what: &str) -> Error {
    let at = if line == 0 { String::new() } else { format!(" line {line}") };
    Error::Usage(format!("--htpasswd {}{at} {what}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))).into_bytes()
    }

    #[test]
    fn htpasswd_accepts_the_right_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("htpasswd");
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        std::fs::write(&p, format!("# users\nalice:{hash}\n\n")).unwrap();
        let h = Htpasswd::load(&p).unwrap();
        assert_eq!(h.check(Some(&header("alice", "s3cret"))).as_deref(), Some("alice"));
        // The second time comes from the cache, with the same answer.
        assert_eq!(h.check(Some(&header("alice", "s3cret"))).as_deref(), Some("alice"));
        assert_eq!(h.check(Some(&header("alice", "wrong"))), None);
        assert_eq!(h.check(Some(&header("bob", "s3cret"))), None);
        assert_eq!(h.check(Some(b"Bearer abc")), None);
        assert_eq!(h.check(None), None);
    }

    #[test]
    fn htpasswd_refuses_hashes_that_are_not_bcrypt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("htpasswd");
        std::fs::write(&p, "alice:$apr1$abc$def\n").unwrap();
        let e = Htpasswd::load(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("htpasswd -B"), "{e}");
    }
}
