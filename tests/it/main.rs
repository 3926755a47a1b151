//! The integration tests: one binary, driving the real `wharf` CLI on temporary
//! registries, and the real skopeo / umoci / oci-image-tool on what it writes.

mod artifacts;
mod bundles;
mod common;
mod concurrency;
mod errors;
mod export;
mod foundation;
mod fuzz_regressions;
mod gc;
mod helm;
mod import;
mod import_trust;
mod interop;
mod lifecycle;
mod lifecycle_util;
mod links;
mod manuals;
mod misc;
mod registry_auth;
mod registry_connect;
mod registry_facade;
mod registry_hostile;
mod registry_oras;
mod registry_plain;
mod registry_support;
mod serve;
mod shapes;
mod sidecar_cache;
mod signatures;
mod snapshots;
mod sync;
mod verify;
