//! The reports the [`Registry`](crate::Registry) methods return, and the types their
//! fields hold: the same documents `wharf --json` prints (docs/CLI.md describes them
//! field by field). Reports are plain data: they are built by the operation, returned,
//! and never read back; each implements `serde::Serialize` (the `--json` form) and
//! `Debug`.

pub use crate::model::check::Kind as FindingKind;
pub use crate::model::descriptor::Role;
pub use crate::model::kind::ArtifactKind;
pub use crate::model::media::{MediaKind, Wrapper};
pub use crate::ops::add::AddReport;
pub use crate::ops::artifact::FileReport;
pub use crate::ops::attach::AttachReport;
pub use crate::ops::delete::{DeleteReport, DeletedManifest};
pub use crate::ops::export::{Compress, ExportReport, ExportedImage, ExportedReferrer};
pub use crate::ops::gc::{FreedBlob, GcReport, PathFreed, RemovedReferrer, RepoGc};
pub use crate::ops::import::{ImageReport, ImportReport, Origin, SourceReport, TagOutcome};
pub use crate::ops::inspect::{ChildInfo, FoundBy, PathLocks, ReferrerInfo, ShowReport};
pub use crate::ops::listing::{RepoError, RepoSummary, ReposReport, TagInfo, TagsReport};
pub use crate::ops::locking::{LockObject, UpdateReport};
pub use crate::ops::pull::{PullReport, PulledImage};
pub use crate::ops::purge::{KeptManifest, PurgeRepo, PurgeReport, PurgedTag};
pub use crate::ops::push::{BlobAction, PlannedBlob, PushReport, PushedTag, Status as PushStatus};
pub use crate::ops::sign::{SignReport, Signed};
pub use crate::ops::signatures::KeyReport;
pub use crate::ops::sweep::{ExpiredRecord, RetentionRepo, RetentionReport, SweepReport};
pub use crate::ops::sync::{SyncAction, SyncFile, SyncKind, SyncRepo, SyncReport, SyncResult, SyncTag};
pub use crate::ops::tagging::{TagReport, UntagReport};
pub use crate::ops::verify::{Counts, Finding, IoMode, Link, Severity, VerifyReport};
pub use crate::registry::TagChange;
pub use crate::registry::meta::TimeSource;
pub use crate::remote::login::{LoginOutcome as LoginReport, LogoutOutcome as LogoutReport};
#[cfg(feature = "serve")]
pub use crate::serve::ServeReport;
