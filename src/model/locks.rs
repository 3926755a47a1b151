//! Lock attributes (ACR's `write_enabled`, `delete_enabled`, `read_enabled`,
//! `list_enabled`) and which operations each forbids. Pure decisions; the registry
//! applies them to every object on an operation's path (repository → tag → manifest).

use serde::{Deserialize, Serialize};

/// The four attributes. All are `true` (enabled) unless someone locked the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    /// `false` forbids overwriting, re-pointing, untagging and deleting the object.
    #[serde(default = "yes")]
    pub write_enabled: bool,
    /// `false` forbids deleting and untagging the object (purge and retention skip it).
    #[serde(default = "yes")]
    pub delete_enabled: bool,
    /// `false` forbids reading the content out (export, or the source of `tag`).
    #[serde(default = "yes")]
    pub read_enabled: bool,
    /// `false` hides the object from listings (`tags`, `manifests`, `repos`).
    #[serde(default = "yes")]
    pub list_enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for Locks {
    fn default() -> Self {
        Locks { write_enabled: true, delete_enabled: true, read_enabled: true, list_enabled: true }
    }
}

/// One of the four attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockAttribute {
    /// `write_enabled`.
    WriteEnabled,
    /// `delete_enabled`.
    DeleteEnabled,
    /// `read_enabled`.
    ReadEnabled,
    /// `list_enabled`.
    ListEnabled,
}

impl LockAttribute {
    /// The attribute's name as the sidecar and `--json` write it (`write_enabled`, …).
    pub fn name(self) -> &'static str {
        match self {
            LockAttribute::WriteEnabled => "write_enabled",
            LockAttribute::DeleteEnabled => "delete_enabled",
            LockAttribute::ReadEnabled => "read_enabled",
            LockAttribute::ListEnabled => "list_enabled",
        }
    }

    /// The `wharf update` flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            LockAttribute::WriteEnabled => "--write-enabled",
            LockAttribute::DeleteEnabled => "--delete-enabled",
            LockAttribute::ReadEnabled => "--read-enabled",
            LockAttribute::ListEnabled => "--list-enabled",
        }
    }
}

/// What an operation does to an object on its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Add to, overwrite or re-point (a new tag in a repository, a tag moved).
    Write,
    /// Remove a tag from a manifest.
    Untag,
    /// Remove a manifest, a tag with it, or a repository.
    Delete,
    /// Read the content out (export, the source of `tag`). Which objects are on a read's
    /// path is decided once, by `registry::Repository::check_read`: reached by digest,
    /// every tag pointing at the manifest is on it; an index reads its children; a
    /// nested child is read through every index that lists it.
    Read,
}

impl Locks {
    /// The attribute that forbids `action` on this object, if any.
    pub fn forbids(&self, action: Action) -> Option<LockAttribute> {
        match action {
            Action::Write => (!self.write_enabled).then_some(LockAttribute::WriteEnabled),
            Action::Untag | Action::Delete => {
                if !self.write_enabled {
                    Some(LockAttribute::WriteEnabled)
                } else if !self.delete_enabled {
                    Some(LockAttribute::DeleteEnabled)
                } else {
                    None
                }
            }
            Action::Read => (!self.read_enabled).then_some(LockAttribute::ReadEnabled),
        }
    }

    /// True when write or delete is disabled: purge, retention and gc keep such objects.
    pub fn protects(&self) -> bool {
        !self.write_enabled || !self.delete_enabled
    }

    /// True when all four attributes are enabled (nothing is locked).
    pub fn is_default(&self) -> bool {
        *self == Locks::default()
    }

    /// The value of one attribute.
    pub fn get(&self, a: LockAttribute) -> bool {
        match a {
            LockAttribute::WriteEnabled => self.write_enabled,
            LockAttribute::DeleteEnabled => self.delete_enabled,
            LockAttribute::ReadEnabled => self.read_enabled,
            LockAttribute::ListEnabled => self.list_enabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbids_table() {
        let write_off = Locks { write_enabled: false, ..Locks::default() };
        let delete_off = Locks { delete_enabled: false, ..Locks::default() };
        let read_off = Locks { read_enabled: false, ..Locks::default() };
        let list_off = Locks { list_enabled: false, ..Locks::default() };
        use Action::*;
        use LockAttribute::*;
        let cases: &[(&str, Locks, Action, Option<LockAttribute>)] = &[
            ("open write", Locks::default(), Write, None),
            ("write off blocks write", write_off, Write, Some(WriteEnabled)),
            ("write off blocks untag", write_off, Untag, Some(WriteEnabled)),
            ("write off blocks delete", write_off, Delete, Some(WriteEnabled)),
            ("write off allows read", write_off, Read, None),
            ("delete off allows write", delete_off, Write, None),
            ("delete off blocks untag", delete_off, Untag, Some(DeleteEnabled)),
            ("delete off blocks delete", delete_off, Delete, Some(DeleteEnabled)),
            ("read off blocks read", read_off, Read, Some(ReadEnabled)),
            ("read off allows delete", read_off, Delete, None),
            ("list off allows everything", list_off, Delete, None),
        ];
        for (name, locks, action, want) in cases {
            assert_eq!(locks.forbids(*action), *want, "{name}");
        }
        assert!(write_off.protects() && delete_off.protects() && !read_off.protects());
    }

    #[test]
    fn missing_attributes_default_to_enabled() {
        let l: Locks = serde_json::from_str(r#"{"write_enabled":false}"#).unwrap();
        assert_eq!(l, Locks { write_enabled: false, ..Locks::default() });
    }
}
