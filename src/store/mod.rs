//! Bytes on disk: the content-addressed blob store, durable writes, the registry lock,
//! staging areas, and the root-anchored no-follow file access all of them go through
//! ([`safe`]). Knows nothing of tags or repositories.

pub mod blobs;
pub mod files;
pub mod fs;
pub mod lock;
pub mod safe;
pub mod staging;
pub mod usage;

pub use blobs::BlobStore;
pub use lock::LockGuard;
pub use staging::Staging;
