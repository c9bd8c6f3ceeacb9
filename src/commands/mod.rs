//! The commands layer: the command line. `cli.rs` holds the flags; each other file turns one
//! subcommand's flags into one call into the application layer (`app`) and prints its outcome.

pub mod analyze;
pub mod article;
pub mod cli;
pub mod compare;
pub mod explore;
pub mod export;
pub mod matching;
pub mod progress;
pub mod run;
pub mod sweep;

use anyhow::Result;

use crate::core::stop::{StopToken, stop_on_signals};
use cli::{Cli, Command};

/// Runs the command line's command. Ctrl-C and SIGTERM stop training and sweeps cleanly.
pub fn run(cli: Cli) -> Result<()> {
    let stop = StopToken::new();
    match cli.command {
        None => {
            stop_on_signals(&stop)?;
            run::command(&cli.train, &stop)
        }
        Some(Command::Train(args)) => {
            stop_on_signals(&stop)?;
            run::command(&args, &stop)
        }
        Some(Command::Sweep(args)) => {
            stop_on_signals(&stop)?;
            sweep::command(&args, &stop)
        }
        Some(Command::Analyze(args)) => analyze::command(&args),
        Some(Command::Export(args)) => export::command(&args),
        Some(Command::Explore(args)) => explore::command(&args),
        Some(Command::Compare(args)) => compare::command(&args),
        Some(Command::Match(args)) => matching::command(&args),
        Some(Command::Article(args)) => article::command(&args),
    }
}
