//! The integration tests: one binary, driving the real `wharf` CLI on temporary
//! registries, and the real skopeo / umoci / oci-image-tool on what it writes.

mod common;
mod foundation;
mod interop;
mod gc;
mod lifecycle;
mod lifecycle_util;
mod verify;
