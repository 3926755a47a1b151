//! The integration tests: one binary, driving the real `wharf` CLI on temporary
//! registries, and the real skopeo / umoci / oci-image-tool on what it writes.

mod artifacts;
mod bundles;
mod common;
mod concurrency;
mod export;
mod foundation;
mod gc;
mod helm;
mod import;
mod interop;
mod lifecycle;
mod lifecycle_util;
mod shapes;
mod verify;
