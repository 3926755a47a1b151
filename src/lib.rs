//! wharf: an offline container-image registry that lives in a directory.
//!
//! Each repository is a standard OCI image layout that skopeo, umoci and oci-image-tool
//! read without wharf; wharf adds import from real producers' archives, tags and
//! ACR-style locks with timestamps in a sidecar, parallel verification, garbage
//! collection, retention and purge. Dependencies point one way:
//! `cli → ops → registry → store → model` (see docs/ARCHITECTURE.md).

pub mod cli;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod ops;
pub mod registry;
pub mod store;

pub use error::{Error, Result};
