//! wharf: an offline container-image registry that lives in a directory.
//!
//! Each repository is a standard OCI image layout that skopeo, umoci and oci-image-tool
//! read without wharf; wharf adds import from real producers' archives, tags and
//! ACR-style locks with timestamps in a sidecar, parallel verification, garbage
//! collection, retention and purge. Dependencies point one way:
//! `cli → ops → registry → store → model` (see docs/ARCHITECTURE.md).

#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod ops;
pub mod registry;
pub mod remote;
pub mod store;

mod api;
pub mod reports;

pub use api::{
    DeleteOptions, Duration, ExportFormat, ExportOptions, Filter, GcOptions, ImportOptions, LockOptions, PurgeOptions,
    Registry, SweepOptions, TagOptions, VerifyOptions, parse_duration, parse_timestamp,
};
pub use error::{Error, Result};
pub use model::{Digest, Platform, Reference, RepoName, Tag, Timestamp};
