//! The printer: owns --json, --quiet and --verbose. Reports render as pretty JSON or as
//! human text; errors go to stderr (and, with --json, as an object on stdout too).

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// A finished command: what to print and the exit code.
pub struct Outcome {
    pub json: Value,
    pub human: String,
    pub exit_code: u8,
}

impl Outcome {
    pub fn ok<R: Serialize + Human>(report: R) -> Result<Outcome> {
        Ok(Outcome::with_code(&report, 0))
    }

    pub fn with_code<R: Serialize + Human>(report: &R, exit_code: u8) -> Outcome {
        let mut human = String::new();
        report.human(&mut human);
        Outcome { json: serde_json::to_value(report).expect("reports serialise"), human, exit_code }
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
            println!("{}", serde_json::to_string_pretty(&o.json).expect("json"));
        } else if !o.human.is_empty() {
            print!("{}", o.human);
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
