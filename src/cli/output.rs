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
    fn json(&self) -> String;
    fn human_text(&self) -> String;
}

impl<R: Serialize + Human> Report for R {
    fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
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

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Printer {
        Printer { json, quiet, verbose }
    }

    pub fn emit(&self, o: &Outcome) {
        if self.json {
            println!("{}", o.report.json());
        } else if !o.no_human {
            print!("{}", o.report.human_text());
        }
    }

    pub fn error(&self, e: &Error) {
        eprintln!("error: {e}");
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"error": {"message": e.to_string(), "exit_code": 2}}))
                    .expect("json")
            );
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
