//! Progress bars for long operations, drawn on stderr only when the caller asks (the CLI
//! asks when stderr is a terminal and `--quiet` is off). Operations talk to [`Bar`]; with
//! the `cli` feature off (a library build) every bar is a no-op and indicatif is not
//! compiled in.

use std::io::Read;

/// A byte-counting progress bar, or nothing.
pub struct Bar {
    #[cfg(feature = "cli")]
    inner: Option<indicatif::ProgressBar>,
}

impl Bar {
    /// A bar that draws nothing.
    pub fn hidden() -> Bar {
        Bar {
            #[cfg(feature = "cli")]
            inner: None,
        }
    }

    /// A bar counting bytes towards `total` when it is known (then it shows a percentage
    /// and an ETA), or a running byte count when it is not. Draws only when `show`.
    #[cfg_attr(not(feature = "cli"), allow(unused_variables))]
    pub fn bytes(show: bool, message: String, total: Option<u64>) -> Bar {
        if !show {
            return Bar::hidden();
        }
        #[cfg(feature = "cli")]
        {
            let pb = indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
            pb.set_message(message);
            let bar = Bar { inner: Some(pb) };
            bar.restyle(total.is_some());
            bar
        }
        #[cfg(not(feature = "cli"))]
        Bar::hidden()
    }

    #[cfg(feature = "cli")]
    fn restyle(&self, known: bool) {
        let Some(pb) = &self.inner else { return };
        let template = if known {
            "{msg} {wide_bar} {binary_bytes}/{binary_total_bytes} {percent}% {binary_bytes_per_sec} eta {eta}"
        } else {
            "{msg} {binary_bytes} ({binary_bytes_per_sec}) {elapsed}"
        };
        pb.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    }

    /// Sets the total once it is known.
    #[cfg_attr(not(feature = "cli"), allow(unused_variables))]
    pub fn set_total(&self, total: u64) {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            pb.set_length(total);
            self.restyle(true);
        }
    }

    /// Adds `n` bytes to the total (work discovered as it goes, as a pull finds blobs).
    #[cfg_attr(not(feature = "cli"), allow(unused_variables))]
    pub fn inc_total(&self, n: u64) {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            pb.inc_length(n);
            self.restyle(true);
        }
    }

    /// Counts `n` more bytes done.
    #[cfg_attr(not(feature = "cli"), allow(unused_variables))]
    pub fn inc(&self, n: u64) {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            pb.inc(n);
        }
    }

    /// The bytes counted so far (0 for a bar that draws nothing); read by tests.
    #[cfg(test)]
    pub fn position(&self) -> u64 {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            return pb.position();
        }
        0
    }

    /// Wraps a reader so every byte read advances the bar.
    pub fn wrap_read<'a, R: Read + 'a>(&self, r: R) -> Box<dyn Read + 'a> {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            return Box::new(pb.wrap_read(r));
        }
        Box::new(r)
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        #[cfg(feature = "cli")]
        if let Some(pb) = &self.inner {
            pb.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}
