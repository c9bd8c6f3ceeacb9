//! Progress reporting: a bar on stderr when it is a terminal, Keras-style epoch lines on stdout.

use std::cell::Cell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::feedback::Feedback;
use crate::core::hold;
use crate::core::metrics::EpochMetrics;

/// What a person at the command line sees of the application layer's work.
pub struct Progress {
    interactive: bool,
    bar: Option<ProgressBar>,
    /// Lines printed on stdout so far, for the test holds of `core::hold`.
    lines: Cell<usize>,
}

impl Progress {
    /// Draws a bar only when stderr is a terminal, so logs and pipes get plain lines.
    pub fn new() -> Self {
        Self {
            interactive: std::io::stderr().is_terminal(),
            bar: None,
            lines: Cell::new(0),
        }
    }

    fn print_line(&self, text: &str) {
        println!("{text}");
        self.lines.set(self.lines.get() + 1);
        hold::after_line(self.lines.get());
    }
}

impl Feedback for Progress {
    fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize) {
        if !self.interactive {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} steps, {elapsed}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_message(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn step(&mut self, step: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
        }
    }

    fn end_epoch(&mut self, m: &EpochMetrics, epochs: usize) {
        self.finish();
        self.print_line(&epoch_line(m, epochs));
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// On stderr, so it stays visible when stdout goes to a file or a pipe.
    fn warn(&self, text: &str) {
        eprintln!("{text}");
    }

    fn message(&self, text: &str) {
        self.print_line(text);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// `epoch 3/20 - 1.1s - loss: 0.1234 - accuracy: 0.9650 - val_loss: … - val_accuracy: …`
pub(crate) fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let mut line = format!(
        "epoch {}/{} - {:.1}s - loss: {:.4} - accuracy: {:.4}",
        m.epoch, epochs, m.seconds, m.loss, m.accuracy
    );
    if let (Some(vl), Some(va)) = (m.val_loss, m.val_accuracy) {
        line.push_str(&format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"));
    }
    line
}
