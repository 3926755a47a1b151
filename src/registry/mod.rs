//! Repositories, tags, sidecar metadata, locks and reference resolution, on top of the
//! store. A registry is a directory with `.wharf/registry.json` whose repositories are
//! OCI image layouts at the path of their name; a directory that is itself an OCI layout
//! is a registry of one repository.

pub mod config;
pub mod graph;
pub mod kind;
pub mod layout;
pub mod meta;
pub mod repository;
pub mod trash;

use std::path::{Path, PathBuf};

pub use config::RegistryConfig;
pub use repository::{LockChanges, LockTarget, Repository, TagChange};

use crate::error::{Error, Result};
use crate::model::media::OCI_LAYOUT_FILE;
use crate::model::{RepoName, Timestamp};
use crate::store::BlobStore;
use crate::store::fs::{FileKind, atomic_write, create_dir_all_durable, read_limited};
use crate::store::lock::{self, LockGuard, LockMode};

pub const STATE_DIR: &str = ".wharf";
pub const CONFIG_FILE: &str = "registry.json";

/// What kind of directory the registry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    /// A registry root made by `wharf init`.
    Root,
    /// A plain OCI layout used as a registry of one repository with this name.
    Layout(RepoName),
}

/// An open registry. Cheap to hold; repositories are loaded on demand.
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    kind: RegistryKind,
    config: RegistryConfig,
}

/// How to wait for the registry lock.
pub struct LockWait<'a> {
    pub wait: bool,
    pub on_wait: &'a dyn Fn(&Path),
}

impl Registry {
    /// Makes `root` a registry (creating it if needed). Refuses a directory that already
    /// is one, or is an OCI layout.
    pub fn init(root: &Path) -> Result<Registry> {
        // The root path is the user's own (it may be a link); everything below it is
        // reached without following links.
        std::fs::create_dir_all(root).map_err(Error::io("create directory", root))?;
        crate::store::safe::anchor(root)?;
        if crate::store::fs::kind(&root.join(STATE_DIR).join(CONFIG_FILE))?.is_some() {
            return Err(Error::AlreadyRegistry { path: root.to_path_buf() });
        }
        if crate::store::fs::kind(&root.join(OCI_LAYOUT_FILE))?.is_some() {
            return Err(Error::refused(format!(
                "{} is an OCI image layout; wharf uses it as a registry of one repository as it is, without init",
                root.display()
            )));
        }
        let state = root.join(STATE_DIR);
        create_dir_all_durable(&state.join("blobs").join("sha256"))?;
        create_dir_all_durable(&state.join("staging"))?;
        let config = RegistryConfig::default();
        let reg = Registry { root: root.to_path_buf(), kind: RegistryKind::Root, config };
        reg.save_config()?;
        Ok(reg)
    }

    /// Opens the registry or layout at `root`.
    pub fn open(root: &Path) -> Result<Registry> {
        if !root.is_dir() {
            return Err(Error::NotARegistry { path: root.to_path_buf() });
        }
        crate::store::safe::anchor(root)?;
        let config_path = root.join(STATE_DIR).join(CONFIG_FILE);
        if crate::store::fs::is_file(&config_path)? {
            let bytes = read_limited(&config_path, 1 << 20)?;
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| Error::corrupt(&config_path, format!("not valid JSON: {e}")))?;
            let found = v.get("wharf_registry_version").and_then(|v| v.as_u64()).unwrap_or(0);
            if found != config::REGISTRY_VERSION {
                return Err(Error::RegistryVersion { path: config_path, found, supported: config::REGISTRY_VERSION });
            }
            let config = serde_json::from_value(v)
                .map_err(|e| Error::corrupt(&config_path, format!("not a valid registry config: {e}")))?;
            return Ok(Registry { root: root.to_path_buf(), kind: RegistryKind::Root, config });
        }
        if crate::store::fs::is_file(&root.join(OCI_LAYOUT_FILE))? {
            return Ok(Registry {
                root: root.to_path_buf(),
                kind: RegistryKind::Layout(layout_repo_name(root)),
                config: RegistryConfig::default(),
            });
        }
        Err(Error::NotARegistry { path: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn kind(&self) -> &RegistryKind {
        &self.kind
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut RegistryConfig {
        &mut self.config
    }

    pub fn save_config(&self) -> Result<()> {
        if let RegistryKind::Layout(_) = self.kind {
            return Err(Error::refused(format!(
                "{} is a plain OCI layout; registry settings need a registry made with `wharf init`",
                self.root.display()
            )));
        }
        let mut bytes = serde_json::to_vec_pretty(&self.config).expect("config serialises");
        bytes.push(b'\n');
        atomic_write(&self.state_dir().join(CONFIG_FILE), &bytes)
    }

    /// `.wharf/` (inside the layout for a plain layout).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// The dedupe pool, for a registry root; a plain layout has none.
    pub fn pool(&self) -> Option<BlobStore> {
        match self.kind {
            RegistryKind::Root => Some(BlobStore::new(self.state_dir().join("blobs"))),
            RegistryKind::Layout(_) => None,
        }
    }

    pub fn staging_root(&self) -> PathBuf {
        self.state_dir().join("staging")
    }

    /// Takes the registry lock for reading. A plain layout without `.wharf/` is read
    /// without a lock, so that read-only media and foreign layouts stay untouched.
    pub fn lock_shared(&self, w: &LockWait<'_>) -> Result<Option<LockGuard>> {
        match crate::store::fs::kind(&self.state_dir())? {
            Some(FileKind::Dir) => {}
            Some(kind) if kind.is_special() => return Err(Error::SpecialFile { path: self.state_dir(), kind }),
            _ => return Ok(None),
        }
        lock::acquire(&self.state_dir().join("lock"), LockMode::Shared, w.wait, w.on_wait).map(Some)
    }

    /// Takes the registry lock for writing (creating `.wharf/` in a plain layout).
    pub fn lock_exclusive(&self, w: &LockWait<'_>) -> Result<LockGuard> {
        create_dir_all_durable(&self.state_dir())?;
        lock::acquire(&self.state_dir().join("lock"), LockMode::Exclusive, w.wait, w.on_wait)
    }

    /// The directory of repository `name` (for a plain layout, its root; any other name
    /// is refused).
    pub fn repo_dir(&self, name: &RepoName) -> Result<PathBuf> {
        match &self.kind {
            RegistryKind::Root => {
                let mut p = self.root.clone();
                for c in name.components() {
                    p.push(c);
                }
                Ok(p)
            }
            RegistryKind::Layout(own) if own == name => Ok(self.root.clone()),
            RegistryKind::Layout(own) => Err(Error::refused(format!(
                "{} is a single OCI layout whose repository is named `{own}`; `{name}` is not in it",
                self.root.display()
            ))),
        }
    }

    /// Every repository, sorted by name: directories holding an `oci-layout` entry whose
    /// path from the root is a valid repository name. Dot-directories and `blobs/` are
    /// never descended into. A link or special file anywhere in the tree the walk covers
    /// is refused ([`Error::SpecialFile`] naming the first one): wharf never follows it
    /// and will not act on a registry whose extent it cannot see (gc fails closed on it);
    /// `verify` lists them all ([`Registry::scan_tree`]).
    pub fn repo_names(&self) -> Result<Vec<RepoName>> {
        let tree = self.scan_tree()?;
        if let Some((path, kind)) = tree.special.into_iter().next() {
            return Err(Error::SpecialFile { path, kind });
        }
        Ok(tree.repositories)
    }

    /// The walk behind [`Registry::repo_names`]: the repositories, and every link or
    /// special file met (each directory is opened without following links, relative to
    /// its parent, so a link is seen, never entered).
    pub fn scan_tree(&self) -> Result<TreeScan> {
        let mut out = TreeScan::default();
        if let RegistryKind::Layout(name) = &self.kind {
            out.repositories.push(name.clone());
            return Ok(out);
        }
        // Paths, not open handles, wait on the stack (a registry of thousands of
        // repositories must not hold thousands of descriptors); each is reopened beneath
        // the root without following links when its turn comes.
        let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(self.root.clone(), Vec::new())];
        while let Some((path, rel)) = stack.pop() {
            let Some(dir) = crate::store::fs::Dir::open(&path)? else { continue };
            for e in dir.entries()? {
                let name = e.name.to_string_lossy().to_string();
                if rel.is_empty() && name == STATE_DIR {
                    continue;
                }
                if e.kind.is_special() {
                    out.special.push((e.path, e.kind));
                    continue;
                }
                if e.kind != FileKind::Dir {
                    if e.name == OCI_LAYOUT_FILE
                        && let Ok(n) = RepoName::parse(&rel.join("/"))
                    {
                        out.repositories.push(n);
                    }
                    continue;
                }
                if name.starts_with('.') || name == "blobs" {
                    continue;
                }
                let mut r = rel.clone();
                r.push(name);
                stack.push((e.path, r));
            }
            // An `oci-layout` that is itself a link or special file still marks a
            // repository (opening it then names the problem).
            if !rel.is_empty()
                && out.special.iter().any(|(p, _)| p == &dir.path().join(OCI_LAYOUT_FILE))
                && let Ok(n) = RepoName::parse(&rel.join("/"))
            {
                out.repositories.push(n);
            }
        }
        out.repositories.sort();
        out.repositories.dedup();
        out.special.sort();
        Ok(out)
    }

    /// True when something is at the repository's `oci-layout` (or wharf cannot tell
    /// because a link or special file is in the way: opening it then says so).
    pub fn repo_exists(&self, name: &RepoName) -> bool {
        self.layout_state(name).unwrap_or(true)
    }

    /// Whether the repository's `oci-layout` exists; a link on the way is an error.
    fn layout_state(&self, name: &RepoName) -> Result<bool> {
        Ok(crate::store::fs::kind(&self.repo_dir(name)?.join(OCI_LAYOUT_FILE))?.is_some())
    }

    /// The blobs readable content holds, over every repository
    /// ([`Repository::readable_blobs`]); a repository that cannot be loaded proves nothing.
    pub fn readable_blobs(&self, now: Timestamp) -> Result<std::collections::BTreeSet<crate::model::Digest>> {
        let mut out = std::collections::BTreeSet::new();
        for name in self.repo_names()? {
            if let Ok(repo) = self.open_repo(&name, now) {
                out.extend(repo.readable_blobs());
            }
        }
        Ok(out)
    }

    /// Loads a repository, reconciling its sidecar as of `now`.
    pub fn open_repo(&self, name: &RepoName, now: Timestamp) -> Result<Repository> {
        let dir = self.repo_dir(name)?;
        if !self.layout_state(name)? {
            return Err(Error::RepoNotFound { repo: name.to_string() });
        }
        Repository::load(name.clone(), &dir, now)
    }

    /// Loads a repository, or creates an empty one (not in a plain layout).
    pub fn open_or_create_repo(&self, name: &RepoName, now: Timestamp) -> Result<Repository> {
        if self.repo_exists(name) {
            return self.open_repo(name, now);
        }
        let dir = self.check_new_repo(name)?;
        Repository::create(name.clone(), &dir, now)
    }

    /// The repository as [`Registry::open_or_create_repo`] would give it, without
    /// writing anything: a new one is checked as it would be created and returned empty,
    /// in memory. Planning operations change it in memory to see that every step is
    /// allowed before anything is written.
    pub fn plan_repo(&self, name: &RepoName, now: Timestamp) -> Result<Repository> {
        if self.repo_exists(name) {
            return self.open_repo(name, now);
        }
        let dir = self.check_new_repo(name)?;
        Ok(Repository::empty(name.clone(), &dir, now))
    }

    /// Refuses a name wharf does not create a repository under; returns its directory.
    fn check_new_repo(&self, name: &RepoName) -> Result<PathBuf> {
        // A component `blobs` would put the repository inside another layout's blob
        // store (where umoci's gc chokes on non-digest names), and listings never look
        // there.
        if name.components().any(|c| c == "blobs") {
            return Err(Error::refused(format!(
                "repository name `{name}` has a component `blobs`: wharf does not create repositories there (it \
                 would sit inside a layout's blob store, and listings skip blobs/ directories); choose another name"
            )));
        }
        let dir = self.repo_dir(name)?;
        // Never created through a link planted in the tree: every directory on the way
        // is opened or made without following links (store::safe), and a link there is
        // refused naming it. Checked before anything is written.
        let mut p = self.root.clone();
        for c in name.components() {
            p.push(c);
            if let Some(kind) = crate::store::fs::kind(&p)?
                && kind != FileKind::Dir
            {
                return Err(Error::SpecialFile { path: p, kind });
            }
        }
        Ok(dir)
    }
}

/// What [`Registry::scan_tree`] found.
#[derive(Debug, Default)]
pub struct TreeScan {
    pub repositories: Vec<RepoName>,
    /// Links and special files in the repository tree, sorted by path.
    pub special: Vec<(PathBuf, FileKind)>,
}

/// The name a plain layout goes by: its directory name when that is a valid repository
/// name, else `layout`.
fn layout_repo_name(root: &Path) -> RepoName {
    let base = std::fs::canonicalize(root).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()));
    base.and_then(|b| RepoName::parse(&b).ok()).unwrap_or_else(|| RepoName::parse("layout").expect("valid name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Each row plants one thing in a registry holding `a` and `team/b`: what discovery
    /// then lists, and which path it reports as a link or special file.
    #[test]
    fn scan_tree_never_follows_and_reports_specials() {
        type Plant = fn(&Path, &Path);
        let rows: &[(&str, Plant, &[&str], Option<&str>)] = &[
            ("nothing", |_, _| {}, &["a", "team/b"], None),
            ("a linked repository", |r, o| symlink(o, r.join("evil")).unwrap(), &["a", "team/b"], Some("evil")),
            ("a linked parent", |r, o| symlink(o, r.join("team/x")).unwrap(), &["a", "team/b"], Some("team/x")),
            (
                "a linked oci-layout",
                |r, o| {
                    std::fs::remove_file(r.join("a/oci-layout")).unwrap();
                    symlink(o.join("oci-layout"), r.join("a/oci-layout")).unwrap();
                },
                &["a", "team/b"],
                Some("a/oci-layout"),
            ),
            (
                "a FIFO in the tree",
                |r, _| {
                    rustix::fs::mknodat(
                        rustix::fs::CWD,
                        r.join("team/pipe"),
                        rustix::fs::FileType::Fifo,
                        rustix::fs::Mode::from_raw_mode(0o600),
                        0,
                    )
                    .unwrap()
                },
                &["a", "team/b"],
                Some("team/pipe"),
            ),
        ];
        for (what, plant, repos, special) in rows {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("reg");
            let outside = dir.path().join("outside");
            std::fs::create_dir_all(outside.join("blobs/sha256")).unwrap();
            std::fs::write(outside.join("oci-layout"), b"{\"imageLayoutVersion\":\"1.0.0\"}").unwrap();
            std::fs::write(outside.join("index.json"), b"{\"schemaVersion\":2,\"manifests\":[]}").unwrap();
            let reg = Registry::init(&root).unwrap();
            for name in ["a", "team/b"] {
                reg.open_or_create_repo(&RepoName::parse(name).unwrap(), Timestamp::UNIX_EPOCH).unwrap();
            }
            plant(&root, &outside);
            let scan = reg.scan_tree().unwrap();
            let names: Vec<String> = scan.repositories.iter().map(|n| n.to_string()).collect();
            assert_eq!(names, repos.to_vec(), "{what}: repositories");
            let found: Vec<PathBuf> = scan.special.iter().map(|(p, _)| p.clone()).collect();
            assert_eq!(found, special.map(|s| root.join(s)).into_iter().collect::<Vec<_>>(), "{what}: specials");
            match special {
                None => assert_eq!(reg.repo_names().unwrap().len(), 2),
                Some(s) => assert!(
                    matches!(reg.repo_names(), Err(Error::SpecialFile { ref path, .. }) if path == &root.join(s)),
                    "{what}: repo_names refuses"
                ),
            }
        }
    }
}
