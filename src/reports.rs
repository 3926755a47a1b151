//! The reports the [`Registry`](crate::Registry) methods return: the same documents
//! `wharf --json` prints (docs/CLI.md describes their fields).

pub use crate::ops::delete::{DeleteReport, DeletedManifest};
pub use crate::ops::export::{ExportReport, ExportedImage};
pub use crate::ops::gc::GcReport;
pub use crate::ops::import::{ImageReport, ImportReport, SourceReport, TagOutcome};
pub use crate::ops::inspect::ShowReport;
pub use crate::ops::listing::{ReposReport, TagInfo, TagsReport};
pub use crate::ops::locking::UpdateReport;
pub use crate::ops::purge::PurgeReport;
pub use crate::ops::sweep::SweepReport;
pub use crate::ops::tagging::{TagReport, UntagReport};
pub use crate::ops::verify::{Finding, Severity, VerifyReport};
