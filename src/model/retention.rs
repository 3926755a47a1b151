//! Pure lifecycle decisions: which tags a purge filter selects, which untagged manifests a
//! retention policy or a purge may remove, and which of those the descriptor graph
//! protects (children of live indexes, referrers of live images, subjects of live
//! referrers). No filesystem, no clock: `now` and every time are parameters, and the
//! graph is given as plain digests.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::Serialize;

use super::digest::Digest;
use super::time::Timestamp;

/// Why a `--filter` did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter has no `:` separating the repository and the tag regexes (the filter as given).
    #[error("--filter `{0}` has no `:` outside (…) and […]: expected REPO_REGEX:TAG_REGEX (e.g. 'team/.*:build-.*')")]
    NoColon(String),
    /// One of the two regexes does not compile.
    #[error("--filter `{filter}`: bad {part} regex: {message}")]
    BadRegex {
        /// The filter as given.
        filter: String,
        /// `repository` or `tag`: which half is bad.
        part: &'static str,
        /// The regex compiler's message.
        message: String,
    },
}

/// A purge filter, `REPO_RE:TAG_RE`: a repository regex and a tag regex, each anchored
/// at both ends and matched in linear time (the `regex` crate never backtracks).
#[derive(Debug, Clone)]
pub struct Filter {
    /// The filter as written.
    pub text: String,
    /// The repository regex, anchored at both ends.
    pub repo: Regex,
    /// The tag regex, anchored at both ends.
    pub tag: Regex,
}

impl Filter {
    /// Parses `REPO_RE:TAG_RE`. The split is at the first `:` outside parentheses,
    /// brackets and escapes, so `(?:a|b)` works on either side.
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let split = split_point(s).ok_or_else(|| FilterError::NoColon(s.to_string()))?;
        let (repo, tag) = (&s[..split], &s[split + 1..]);
        let build = |part: &'static str, re: &str| {
            let bad = |e: regex::Error| FilterError::BadRegex { filter: s.to_string(), part, message: e.to_string() };
            // Compile the user's text alone first, so an error points into what they
            // wrote, not into the anchors wharf adds.
            Regex::new(re).map_err(bad)?;
            Regex::new(&format!("^(?:{re})$")).map_err(bad)
        };
        Ok(Filter { text: s.to_string(), repo: build("repository", repo)?, tag: build("tag", tag)? })
    }
}

fn split_point(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut in_class = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth -= 1,
            ':' if !in_class && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// A tag as the purge decision sees it.
#[derive(Debug, Clone)]
pub struct TagRow {
    pub tag: String,
    pub digest: Digest,
    pub updated: Timestamp,
    /// The tag, its manifest or the repository is locked against delete.
    pub locked: bool,
}

/// What purge decided for one matching tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagDecision {
    Purge,
    /// Among the `--keep` newest matching tags.
    Keep,
    /// Updated after the `--ago` cutoff.
    TooNew,
    /// Locked, and `--include-locked` was not given.
    Locked,
}

/// Decides each tag matching `tag_re`: the `keep` newest matching tags (by update time,
/// ties broken by name) are kept; of the rest, those updated at or before `cutoff` (all of
/// them without a cutoff) are purged unless locked and `include_locked` is false. Tags that
/// do not match are absent from the result. Sorted by tag name.
pub fn decide_tags(
    rows: &[TagRow],
    tag_re: &Regex,
    cutoff: Option<Timestamp>,
    keep: usize,
    include_locked: bool,
) -> Vec<(TagRow, TagDecision)> {
    let mut matching: Vec<&TagRow> = rows.iter().filter(|r| tag_re.is_match(&r.tag)).collect();
    matching.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.tag.cmp(&b.tag)));
    let mut out: Vec<(TagRow, TagDecision)> = matching
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let d = if i < keep {
                TagDecision::Keep
            } else if cutoff.is_some_and(|c| r.updated > c) {
                TagDecision::TooNew
            } else if r.locked && !include_locked {
                TagDecision::Locked
            } else {
                TagDecision::Purge
            };
            ((*r).clone(), d)
        })
        .collect();
    out.sort_by(|a, b| a.0.tag.cmp(&b.0.tag));
    out
}

/// The untagged manifests whose time (`untagged_at`) is at or before `cutoff`.
pub fn older_than(untagged: &[(Digest, Timestamp)], cutoff: Timestamp) -> Vec<Digest> {
    untagged.iter().filter(|(_, t)| *t <= cutoff).map(|(d, _)| d.clone()).collect()
}

/// One top-level manifest of a repository, as the protection rules see it.
#[derive(Debug, Clone, Default)]
pub struct GraphNode {
    /// Every manifest-level digest reachable from it (nested manifests and indexes, and
    /// subjects, transitively), itself excluded.
    pub reaches: BTreeSet<Digest>,
    /// Its own `subject`, if it is a referrer.
    pub subject: Option<Digest>,
}

/// Why a removal candidate is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Listed (directly or through nested indexes) by a manifest that stays, or the subject
    /// of a referrer that stays.
    ReachableFromLive,
    /// A referrer whose subject stays.
    ReferrerOfLive,
}

/// Splits removal `candidates` (top-level digests of one repository) into those that may
/// go and those the graph protects. Everything in `nodes` that is not a candidate stays;
/// a candidate reachable from what stays, or whose subject is reachable from (or is) what
/// stays, stays too, and so on to a fixed point. Both results are sorted.
pub fn protect(
    nodes: &BTreeMap<Digest, GraphNode>,
    candidates: &BTreeSet<Digest>,
) -> (Vec<Digest>, Vec<(Digest, Protection)>) {
    let mut staying: BTreeSet<&Digest> = nodes.keys().filter(|d| !candidates.contains(*d)).collect();
    let mut live: BTreeSet<&Digest> = BTreeSet::new();
    for d in &staying {
        live.insert(*d);
        live.extend(nodes[*d].reaches.iter());
    }
    let mut kept: BTreeMap<Digest, Protection> = BTreeMap::new();
    loop {
        let mut changed = false;
        for c in candidates {
            if kept.contains_key(c) {
                continue;
            }
            let why = if live.contains(c) {
                Some(Protection::ReachableFromLive)
            } else if nodes.get(c).and_then(|n| n.subject.as_ref()).is_some_and(|s| live.contains(s)) {
                Some(Protection::ReferrerOfLive)
            } else {
                None
            };
            if let Some(why) = why {
                kept.insert(c.clone(), why);
                if let Some(n) = nodes.get(c) {
                    staying.insert(c);
                    live.insert(c);
                    live.extend(n.reaches.iter());
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let remove = candidates.iter().filter(|c| !kept.contains_key(*c)).cloned().collect();
    (remove, kept.into_iter().collect())
}

impl Protection {
    /// The name a report gives this protection (`kept_manifests[].reason`).
    pub fn name(self) -> &'static str {
        match self {
            Protection::ReachableFromLive => "child_or_subject_of_live",
            Protection::ReferrerOfLive => "referrer_of_live",
        }
    }
}

/// An untagged manifest that qualified for removal (by purge or by retention) but stays,
/// and why: `locked`, or the name of what protects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptManifest {
    /// The manifest's digest.
    pub digest: Digest,
    /// Why it stays: `locked`, `child_or_subject_of_live` (a live index lists it, or a
    /// live referrer is about it) or `referrer_of_live` (it is about a live manifest).
    pub reason: &'static str,
}

/// Takes the candidates that `locked` says are locked out of `candidates`, and returns
/// them as kept (`locked`), sorted by digest.
pub fn hold_locked(candidates: &mut BTreeSet<Digest>, mut locked: impl FnMut(&Digest) -> bool) -> Vec<KeptManifest> {
    let mut kept = Vec::new();
    candidates.retain(|d| {
        let is_locked = locked(d);
        if is_locked {
            kept.push(KeptManifest { digest: d.clone(), reason: "locked" });
        }
        !is_locked
    });
    kept
}

/// The decision purge and retention share: splits `candidates` with [`protect`] over
/// `nodes`, and adds the protected ones to `kept` (already held back, e.g. by
/// [`hold_locked`]). Returns what to remove and everything kept, both sorted by digest.
pub fn settle(
    nodes: &BTreeMap<Digest, GraphNode>,
    candidates: &BTreeSet<Digest>,
    mut kept: Vec<KeptManifest>,
) -> (Vec<Digest>, Vec<KeptManifest>) {
    let (remove, protected) = protect(nodes, candidates);
    kept.extend(protected.into_iter().map(|(digest, why)| KeptManifest { digest, reason: why.name() }));
    kept.sort_by(|a, b| a.digest.cmp(&b.digest));
    (remove, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_timestamp;

    fn d(n: u8) -> Digest {
        Digest::from_bytes([n; 32])
    }

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn filter_parse_table() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("app:v.*", "app", "v1", true),
            ("app:v.*", "app2", "v1", false),
            ("app:v", "app", "v1", false),
            ("team/.*:(?:dev|ci)-[0-9]+", "team/x", "ci-12", true),
            ("(?:a|b):x", "b", "x", true),
            ("[:a]+:.*", "a", "x", true),
        ];
        for (f, repo, tag, want) in cases {
            let p = Filter::parse(f).unwrap();
            assert_eq!(p.repo.is_match(repo) && p.tag.is_match(tag), *want, "{f} {repo}:{tag}");
        }
        assert!(matches!(Filter::parse("noColon"), Err(FilterError::NoColon(_))));
        assert!(matches!(Filter::parse("a:("), Err(FilterError::BadRegex { part: "tag", .. })));
        // bad_filter_regex_names_the_filter: the option, the filter and the user's regex.
        let e = Filter::parse("app:v[").unwrap_err().to_string();
        assert!(e.starts_with("--filter `app:v[`: bad tag regex"), "{e}");
        assert!(e.contains("\n    v[\n") && !e.contains("^(?:"), "the error quotes the user's regex: {e}");
    }

    #[test]
    fn settle_holds_locked_then_protects() {
        // 1 is an index listing 2; 3 is a referrer of 4; 5 is plain. Candidates: 2, 3, 4, 5.
        // 4 is locked; so 3 (its referrer) is protected; 1 stays, so 2 (its child) too.
        let mut nodes: BTreeMap<Digest, GraphNode> = BTreeMap::new();
        nodes.insert(d(1), GraphNode { reaches: [d(2)].into(), subject: None });
        nodes.insert(d(2), GraphNode::default());
        nodes.insert(d(3), GraphNode { reaches: [d(4)].into(), subject: Some(d(4)) });
        nodes.insert(d(4), GraphNode::default());
        nodes.insert(d(5), GraphNode::default());
        let mut candidates: BTreeSet<Digest> = [d(2), d(3), d(4), d(5)].into();
        let kept = hold_locked(&mut candidates, |x| *x == d(4));
        assert_eq!(kept, vec![KeptManifest { digest: d(4), reason: "locked" }]);
        assert!(!candidates.contains(&d(4)));
        let (remove, kept) = settle(&nodes, &candidates, kept);
        assert_eq!(remove, vec![d(5)]);
        let reasons: Vec<(Digest, &str)> = kept.into_iter().map(|k| (k.digest, k.reason)).collect();
        assert_eq!(reasons, vec![(d(2), "child_or_subject_of_live"), (d(3), "referrer_of_live"), (d(4), "locked")]);
    }

    #[test]
    fn decide_tags_keep_ago_locks() {
        let rows: Vec<TagRow> = [
            ("v1", "2026-01-01", false),
            ("v2", "2026-01-02", true),
            ("v3", "2026-01-03", false),
            ("v4", "2026-01-10", false),
            ("latest", "2026-01-01", false),
        ]
        .iter()
        .enumerate()
        .map(|(i, (tag, at, locked))| TagRow {
            tag: tag.to_string(),
            digest: d(i as u8),
            updated: t(at),
            locked: *locked,
        })
        .collect();
        let re = Regex::new("^(?:v.*)$").unwrap();
        let got = decide_tags(&rows, &re, Some(t("2026-01-05")), 1, false);
        let names: Vec<(&str, TagDecision)> = got.iter().map(|(r, d)| (r.tag.as_str(), *d)).collect();
        assert_eq!(
            names,
            vec![
                ("v1", TagDecision::Purge),
                ("v2", TagDecision::Locked),
                ("v3", TagDecision::Purge),
                ("v4", TagDecision::Keep)
            ]
        );
        let got = decide_tags(&rows, &re, Some(t("2026-01-02")), 0, true);
        let names: Vec<(&str, TagDecision)> = got.iter().map(|(r, d)| (r.tag.as_str(), *d)).collect();
        assert_eq!(
            names,
            vec![
                ("v1", TagDecision::Purge),
                ("v2", TagDecision::Purge),
                ("v3", TagDecision::TooNew),
                ("v4", TagDecision::TooNew)
            ]
        );
    }

    #[test]
    fn protect_children_referrers_and_subjects() {
        // 1 = live index listing 2; 3 = referrer of 2; 4 = referrer of 5 (both candidates);
        // 6 = live referrer whose subject 7 is a candidate; 8 = plain candidate.
        let mut nodes = BTreeMap::new();
        nodes.insert(d(1), GraphNode { reaches: [d(2)].into(), subject: None });
        nodes.insert(d(2), GraphNode::default());
        nodes.insert(d(3), GraphNode { reaches: [d(2)].into(), subject: Some(d(2)) });
        nodes.insert(d(4), GraphNode { reaches: [d(5)].into(), subject: Some(d(5)) });
        nodes.insert(d(5), GraphNode::default());
        nodes.insert(d(6), GraphNode { reaches: [d(7)].into(), subject: Some(d(7)) });
        nodes.insert(d(7), GraphNode::default());
        nodes.insert(d(8), GraphNode::default());
        let candidates: BTreeSet<Digest> = [2, 3, 4, 5, 7, 8].iter().map(|n| d(*n)).collect();
        let (remove, kept) = protect(&nodes, &candidates);
        assert_eq!(remove, vec![d(4), d(5), d(8)]);
        assert_eq!(
            kept,
            vec![
                (d(2), Protection::ReachableFromLive),
                (d(3), Protection::ReferrerOfLive),
                (d(7), Protection::ReachableFromLive)
            ]
        );
    }

    #[test]
    fn older_than_is_inclusive() {
        let got = older_than(&[(d(1), t("2026-01-01")), (d(2), t("2026-01-03"))], t("2026-01-01"));
        assert_eq!(got, vec![d(1)]);
    }
}
