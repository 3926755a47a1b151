//! wharf: an offline container-image registry that lives in a directory.
//!
//! Each repository is a standard OCI image layout that skopeo, umoci and oci-image-tool
//! read without wharf; wharf adds import from real producers' archives, tags and
//! ACR-style locks with timestamps in a sidecar, parallel verification, garbage
//! collection, retention and purge.
//!
//! # The library
//!
//! Start at [`Registry`]: [`Registry::init`] or [`Registry::open`] a directory, then call
//! one method per operation ([`import`](Registry::import), [`verify`](Registry::verify),
//! [`tag`](Registry::tag), [`gc`](Registry::gc), …). Each takes an options struct whose
//! `Default` is the command line's default, and returns a report from [`reports`] (the
//! document `wharf --json` prints). Failures are [`Error`]s; problems verify finds are
//! findings in its report, not errors. [`add`](Registry::add) and
//! [`attach`](Registry::attach) store files (release notes, SBOMs, signatures) as OCI
//! artifacts; [`pull`](Registry::pull) and [`push`](Registry::push) move images from and
//! to a remote registry, reached as [`RemoteOptions`] say (credentials, CA, TLS).
//!
//! ```
//! # fn main() -> wharf::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let archive = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hello.docker-archive.tar");
//! let reg = wharf::Registry::init(dir.path().join("registry"))?;
//! let opts = wharf::ImportOptions { repo: Some("team/app".parse()?), tags: vec!["build-7".parse()?], ..Default::default() };
//! reg.import(archive, &opts)?;
//! assert!(reg.verify(&wharf::VerifyOptions::default())?.is_clean());
//! reg.tag(&"team/app:build-7".parse()?, &"team/app:stable".parse()?, &wharf::TagOptions::default())?;
//! reg.untag(&"team/app:build-7".parse()?)?;
//! reg.gc(&wharf::GcOptions::default())?;
//! # Ok(()) }
//! ```
//!
//! The value types the methods take and the reports hold ([`Digest`], [`Reference`],
//! [`RepoName`], [`Tag`], [`Timestamp`], [`Duration`], [`Platform`], [`Locks`], [`Filter`])
//! are re-exported here; everything else is private (docs/ARCHITECTURE.md, "What is
//! public"). With `default-features = false` the crate is the library alone, without
//! the command line's dependencies (clap, indicatif, clap_complete, clap_mangen).
//! Inside, dependencies point one way: `cli → ops → registry → store → model`.

#![deny(missing_docs)]
// A type a public signature or report field reaches must be one a caller can name.
#![warn(unnameable_types)]
// The operations only the command line reaches (config, deleted/restore, inventory,
// referrers, manifests, export of whole repositories, `export --format files`, and the
// command line's argument parsers) are not behind the facade, so a library-only build
// (`--no-default-features`) sees them as unused. The default build (clippy, tests)
// checks dead code in full.
#![cfg_attr(not(feature = "cli"), allow(dead_code, unused_imports))]

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod model;
pub(crate) mod ops;
pub(crate) mod registry;
pub(crate) mod remote;
#[cfg(feature = "serve")]
pub(crate) mod serve;
pub(crate) mod store;

mod api;
pub mod reports;

#[cfg(feature = "serve")]
pub use api::ServeOptions;
pub use api::{
    AddOptions, ArtifactFile, AttachOptions, Credentials, DeleteOptions, Duration, ExportFormat, ExportOptions, Filter,
    GcOptions, ImportOptions, LockOptions, PublicKey, PullOptions, PurgeOptions, PushOptions, Registry, RemoteOptions,
    SignOptions, SignatureGate, SweepOptions, SyncOptions, TagOptions, VerifyOptions, parse_duration, parse_timestamp,
};
pub use api::{ChartSource, ChartSpec, FileEntry, FileSource, ImageSpec, RegistrySpec, SyncSpec, TagSelector};
pub use api::{LoginOptions, LogoutOptions, login, logout};
pub use error::{Error, Result};
pub use model::locks::Action as LockAction;
pub use model::raw::RawFields;
pub use model::retention::FilterError;
pub use model::signature::KeyError;
pub use model::time::TimeError;
pub use model::{
    Digest, DigestError, LockAttribute, Locks, Platform, Reference, ReferenceError, RepoName, Tag, Timestamp,
};
pub use store::safe::FileKind;
