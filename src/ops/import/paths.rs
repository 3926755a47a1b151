//! Member paths: the one normalisation of a name inside an import source (a tar member
//! name, or a path a JSON document in the source names) to `a/b/c`. Pure; used by the
//! tar reader ([`super::tarstream`]) and by the content lookups ([`super::content`]),
//! which therefore do not depend on each other for it. The result is a key into the
//! source's own members, never a filesystem path.

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
}
