//! Repositories, tags, sidecar metadata, locks and reference resolution, on top of the
//! store. A registry is a directory with `.wharf/registry.json` whose repositories are
//! OCI image layouts at the path of their name; a directory that is itself an OCI layout
//! is a registry of one repository.

pub mod config;
pub mod graph;
pub mod kind;
pub mod meta;
pub mod repository;
pub mod trash;

use std::path::{Path, PathBuf};

pub use config::RegistryConfig;
pub use repository::{LockChanges, LockTarget, Repository, Resolved, TagChange};

use crate::error::{Error, Result};
use crate::model::media::OCI_LAYOUT_FILE;
use crate::model::{RepoName, Timestamp};
use crate::store::BlobStore;
use crate::store::fs::{atomic_write, create_dir_all_durable, read_limited};
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
        if root.join(STATE_DIR).join(CONFIG_FILE).exists() {
            return Err(Error::AlreadyRegistry { path: root.to_path_buf() });
        }
        if root.join(OCI_LAYOUT_FILE).exists() {
            return Err(Error::Usage(format!(
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
        let config_path = root.join(STATE_DIR).join(CONFIG_FILE);
        if config_path.is_file() {
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
        if root.join(OCI_LAYOUT_FILE).is_file() {
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
            return Err(Error::Usage(format!(
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
        if !self.state_dir().is_dir() {
            return Ok(None);
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
            RegistryKind::Layout(own) => Err(Error::Usage(format!(
                "{} is a single OCI layout whose repository is named `{own}`; `{name}` is not in it",
                self.root.display()
            ))),
        }
    }

    /// Every repository, sorted by name: directories holding an `oci-layout` file whose
    /// path from the root is a valid repository name. Dot-directories and `blobs/` are
    /// never descended into.
    pub fn repo_names(&self) -> Result<Vec<RepoName>> {
        if let RegistryKind::Layout(name) = &self.kind {
            return Ok(vec![name.clone()]);
        }
        let mut out = Vec::new();
        let mut walker = walkdir::WalkDir::new(&self.root).min_depth(1).follow_links(false).into_iter();
        while let Some(entry) = walker.next() {
            let entry = entry.map_err(|e| Error::Io {
                action: "list repositories in",
                path: e.path().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone()),
                source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("walk error")),
            })?;
            if !entry.file_type().is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            if name.starts_with('.') || name == "blobs" {
                walker.skip_current_dir();
                continue;
            }
            if entry.path().join(OCI_LAYOUT_FILE).is_file() {
                let rel = entry.path().strip_prefix(&self.root).expect("under root");
                let rel = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                if let Ok(n) = RepoName::parse(&rel) {
                    out.push(n);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn repo_exists(&self, name: &RepoName) -> bool {
        self.repo_dir(name).map(|d| d.join(OCI_LAYOUT_FILE).is_file()).unwrap_or(false)
    }

    /// Loads a repository, reconciling its sidecar as of `now`.
    pub fn open_repo(&self, name: &RepoName, now: Timestamp) -> Result<Repository> {
        let dir = self.repo_dir(name)?;
        if !dir.join(OCI_LAYOUT_FILE).is_file() {
            return Err(Error::RepoNotFound { repo: name.to_string() });
        }
        Repository::load(name.clone(), &dir, now)
    }

    /// Loads a repository, or creates an empty one (not in a plain layout).
    pub fn open_or_create_repo(&self, name: &RepoName, now: Timestamp) -> Result<Repository> {
        if self.repo_exists(name) {
            return self.open_repo(name, now);
        }
        // A component `blobs` would put the repository inside another layout's blob
        // store (where umoci's gc chokes on non-digest names), and listings never look
        // there.
        if name.components().any(|c| c == "blobs") {
            return Err(Error::Invalid(format!(
                "repository name `{name}` has a component `blobs`: wharf does not create repositories there (it \
                 would sit inside a layout's blob store, and listings skip blobs/ directories); choose another name"
            )));
        }
        let dir = self.repo_dir(name)?;
        // A repository may not live inside another repository's blobs, nor be created
        // through a symlink planted in the tree.
        let mut p = self.root.clone();
        for c in name.components() {
            p.push(c);
            if let Ok(m) = std::fs::symlink_metadata(&p)
                && m.file_type().is_symlink()
            {
                return Err(Error::Invalid(format!(
                    "{} is a symbolic link; wharf does not create repositories through links",
                    p.display()
                )));
            }
        }
        Repository::create(name.clone(), &dir, now)
    }
}

/// The name a plain layout goes by: its directory name when that is a valid repository
/// name, else `layout`.
fn layout_repo_name(root: &Path) -> RepoName {
    let base = std::fs::canonicalize(root).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()));
    base.and_then(|b| RepoName::parse(&b).ok()).unwrap_or_else(|| RepoName::parse("layout").expect("valid name"))
}
