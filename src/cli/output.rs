//! The printer: owns --json, --quiet and --verbose. Reports render as pretty JSON or as
//! human text; errors go to stderr (and, with --json, as an object on stdout too).

use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};

/// A finished command: the report (rendered only in the form the printer asks for: a
/// listing of 100k tags is not rendered twice) and the exit code.
pub struct Outcome {
    report: Box<dyn Report>,
    /// Print no human text (the report still goes out with --json).
    pub no_human: bool,
    pub exit_code: u8,
}

/// A report, rendered on demand.
trait Report {
    /// Writes the pretty JSON form to `w`, streamed: a listing of 100k tags is tens of
    /// megabytes that need not sit in memory next to the report.
    fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    fn human_text(&self) -> String;
}

impl<R: Serialize + Human> Report for R {
    fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        // serde_json keeps an io error's kind (a closed pipe stays BrokenPipe).
        serde_json::to_writer_pretty(&mut *w, self).map_err(std::io::Error::from)?;
        w.write_all(b"\n")
    }

    fn human_text(&self) -> String {
        let mut out = String::new();
        self.human(&mut out);
        out
    }
}

impl Outcome {
    pub fn ok<R: Serialize + Human + 'static>(report: R) -> Result<Outcome> {
        Ok(Outcome::with_code(report, 0))
    }

    pub fn with_code<R: Serialize + Human + 'static>(report: R, exit_code: u8) -> Outcome {
        Outcome { report: Box::new(report), no_human: false, exit_code }
    }
}

/// A document printed as it is (the inventory on stdout): its human form is the text.
#[derive(Serialize)]
pub struct Text(pub String);

impl Human for Text {
    fn human(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

/// Human rendering of a report.
pub trait Human {
    fn human(&self, out: &mut String);
}

pub struct Printer {
    json: bool,
    #[allow(dead_code)]
    quiet: bool,
    #[allow(dead_code)]
    verbose: bool,
}

/// How writing the report to stdout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Everything was written.
    Done,
    /// The reader closed stdout (EPIPE): the process ends quietly, as ripgrep and the
    /// coreutils do, with the exit code of the work it did (committed work stays).
    Closed,
}

/// Writes `bytes` to stdout and flushes. This is the one way the CLI writes stdout, so
/// that a closed pipe is handled in one place: `Ok(Written::Closed)`, never a panic.
/// Other errors (a full disk behind a redirection) are returned, naming stdout.
pub fn write_stdout(bytes: &[u8]) -> Result<Written> {
    stream_stdout(|out| out.write_all(bytes))
}

/// [`write_stdout`] for output produced piece by piece by `write` (through a buffer).
fn stream_stdout(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<Written> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(Written::Done),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Written::Closed),
        Err(e) => Err(Error::Io { action: "write the report to", path: "stdout".into(), source: e }),
    }
}

/// Writes one line to stderr. A closed or failing stderr is ignored: notes and errors
/// are best effort, and must never turn into a panic.
pub fn note(line: &str) {
    use std::io::Write;
    let line = escape_controls(line);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

/// Human output with its control characters escaped (`\u{1b}` for ESC), except line
/// breaks and tabs: strings from outside (a registry's tags, an artifactType, layer
/// titles, annotations) must not drive the user's terminal. JSON output is not touched:
/// it stays exact, and JSON escapes control characters itself.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Printer {
        Printer { json, quiet, verbose }
    }

    /// Prints the outcome on stdout: its JSON with --json, its human text otherwise.
    pub fn emit(&self, o: &Outcome) -> Result<Written> {
        if self.json {
            stream_stdout(|out| o.report.write_json(out))
        } else if !o.no_human {
            let text = o.report.human_text();
            let text = escape_controls(&text);
            if text.is_empty() { Ok(Written::Done) } else { write_stdout(text.as_bytes()) }
        } else {
            Ok(Written::Done)
        }
    }

    /// Prints an error on stderr (and, with --json, as an object on stdout).
    pub fn error(&self, e: &Error) {
        note(&format!("error: {e}"));
        if self.json {
            let mut text = serde_json::to_string_pretty(
                &json!({"error": {"kind": e.kind(), "message": e.to_string(), "exit_code": e.exit_code()}}),
            )
            .expect("json");
            text.push('\n');
            // The exit code says it already; a closed stdout changes nothing.
            let _ = write_stdout(text.as_bytes());
        }
    }
}

/// Formats a byte count for people (1.5 MiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

pub fn ts(t: &crate::model::Timestamp) -> String {
    crate::model::time::format_timestamp(t)
}

#[cfg(test)]
mod escape_tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped_but_lines_and_tabs_kept() {
        assert_eq!(escape_controls("a\tb\nc"), "a\tb\nc");
        assert_eq!(escape_controls("x\u{1b}[31mred\u{7}\r"), "x\\u{1b}[31mred\\u{7}\\r");
        assert_eq!(escape_controls("\u{9b}2J"), "\\u{9b}2J");
    }
}
