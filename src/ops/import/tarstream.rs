//! Reading a tar archive in one pass: every regular member is hashed into the staging
//! area as it streams by (members are content-addressed there, so a member that arrives
//! before the metadata describing it simply waits on disk, never in memory), links are
//! recorded, and hostile names are refused. A member name never becomes a filesystem
//! path: staged files are named by the digest wharf computed.

use std::io::Read;

use super::content::{Sink, TarContent};
use crate::error::{Error, Result};
use crate::model::Digest;

/// Normalises a member name (or a path a JSON document names) to `a/b/c`: `.` and empty
/// components dropped. Refuses absolute names, `..` components, NUL and backslashes.
pub fn normalise(name: &str) -> std::result::Result<String, &'static str> {
    if name.starts_with('/') {
        return Err("an absolute path");
    }
    if name.contains('\0') || name.contains('\\') {
        return Err("a path with NUL or backslash characters");
    }
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("a path with `..` components"),
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return Err("an empty path");
    }
    Ok(out.join("/"))
}

/// Resolves a symbolic link's target against the directory of the link; refuses one
/// that is absolute or climbs out of the archive.
fn link_target(member: &str, target: &str) -> std::result::Result<String, &'static str> {
    if target.starts_with('/') {
        return Err("points at an absolute path");
    }
    let mut parts: Vec<&str> = member.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("escapes the archive");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("points at the archive root");
    }
    Ok(parts.join("/"))
}

/// Receives every member of the tar stream `r`.
pub fn receive(r: Box<dyn Read>, sink: &mut Sink<'_>, label: &str) -> Result<TarContent> {
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 16, r));
    let mut content = TarContent { label: label.to_string(), ..TarContent::default() };
    let bad = |e: std::io::Error| Error::Invalid(format!("{label}: corrupt or truncated archive: {e}"));
    let mut count = 0usize;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        count += 1;
        let raw = entry.path_bytes().into_owned();
        let raw = String::from_utf8(raw)
            .map_err(|_| Error::Invalid(format!("{label}: a member name is not UTF-8; refused")))?;
        let name = normalise(&raw)
            .map_err(|why| Error::Invalid(format!("{label}: member `{raw}` is {why}; refused (hostile archive)")))?;
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => {
                let size = entry.size();
                let claimed = name
                    .strip_prefix("blobs/sha256/")
                    .and_then(Digest::from_hex)
                    .filter(|_| name.matches('/').count() == 2);
                let what = format!("{label}: member {name}");
                let blob = sink.receive(&mut entry, size, claimed.as_ref(), &what)?;
                content.links.remove(&name);
                content.files.insert(name, blob);
            }
            T::Symlink | T::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| Error::Invalid(format!("{label}: link member {name} has no target")))?;
                let resolved = if kind == T::Symlink {
                    link_target(&name, &target)
                } else {
                    normalise(&target).map_err(|_| "escapes the archive")
                }
                .map_err(|why| {
                    Error::Invalid(format!("{label}: link member {name} -> {target} {why}; refused (hostile archive)"))
                })?;
                content.files.remove(&name);
                content.links.insert(name, resolved);
            }
            // Directories, devices, FIFOs: never materialised, never referenced.
            _ => {}
        }
    }
    if count == 0 {
        return Err(Error::Invalid(format!("{label}: the archive has no members (an empty tar)")));
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("manifest.json", Some("manifest.json")),
            ("./blobs/sha256/ab", Some("blobs/sha256/ab")),
            ("a//b/./c", Some("a/b/c")),
            ("dir/", Some("dir")),
            ("/etc/passwd", None),
            ("../x", None),
            ("a/../../x", None),
            ("a/..", None),
            ("", None),
            (".", None),
            ("a\\b", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input).ok().as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn link_targets() {
        assert_eq!(link_target("b/layer.tar", "../a/layer.tar").unwrap(), "a/layer.tar");
        assert_eq!(link_target("layer.tar", "x").unwrap(), "x");
        assert!(link_target("b/layer.tar", "../../etc/passwd").is_err());
        assert!(link_target("b/layer.tar", "/etc/passwd").is_err());
        assert!(link_target("x", "..").is_err());
    }
}
