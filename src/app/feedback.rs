//! What the application layer tells the person who runs it, without knowing how it is shown:
//! the command line draws a progress bar and prints lines, a test or a sweep's inner runs
//! stay silent.

use crate::core::metrics::EpochMetrics;

/// Progress and messages from long work.
pub trait Feedback: Send {
    /// A line of information.
    fn message(&self, text: &str);
    /// A warning or note that must stay visible even when the information goes elsewhere.
    fn warn(&self, text: &str);
    fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize);
    fn step(&mut self, step: usize);
    fn end_epoch(&mut self, metrics: &EpochMetrics, epochs: usize);
    /// Ends whatever progress display is showing, e.g. when training stops part-way.
    fn finish(&mut self);
}

/// Says nothing: for tests, library callers and a sweep's inner runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Feedback for Silent {
    fn message(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn start_epoch(&mut self, _: usize, _: usize, _: usize) {}
    fn step(&mut self, _: usize) {}
    fn end_epoch(&mut self, _: &EpochMetrics, _: usize) {}
    fn finish(&mut self) {}
}
