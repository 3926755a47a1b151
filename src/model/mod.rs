//! The pure core: digests, references, media types, descriptors and the descriptor
//! graph, lock decisions, time arithmetic. No filesystem, no clock, no threads, no
//! printing: everything here is a function of its arguments.

pub mod annotations;
pub mod check;
pub mod descriptor;
pub mod digest;
pub mod kind;
pub mod lenient;
pub mod locks;
pub mod media;
pub mod policy;
pub mod raw;
pub mod reference;
pub mod retention;
pub mod signature;
pub mod time;

pub use descriptor::{Descriptor, Document, IndexFile, Platform, Role};
pub use digest::{Digest, DigestError};
pub use locks::{Action, LockAttribute, Locks};
pub use media::MediaKind;
pub use reference::{ForeignName, Reference, ReferenceError, RepoName, Tag};
pub use time::Timestamp;
