//! Asking a long job to stop: Ctrl-C or SIGTERM (as schedulers send it) sets a token that the
//! training loop and the sweep read between steps; a second signal quits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

/// A shared flag: whoever holds a clone can ask for a stop or see whether one was asked for.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Sets the flag and says whether it was already set.
    fn request_again(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Makes SIGINT and SIGTERM request a stop through `token` (the binary does this once;
/// library callers pass their own token and request stops themselves).
pub(crate) fn stop_on_signals(token: &StopToken) -> anyhow::Result<()> {
    let token = token.clone();
    ctrlc::set_handler(move || {
        if token.request_again() {
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted: finishing the current step and saving a checkpoint \
             (press Ctrl-C again to quit at once)"
        );
    })
    .context("cannot install the Ctrl-C handler")
}
