//! `explore`: the interactive page of a run, `explore.html`.

use anyhow::Result;

use super::cli::ExploreArgs;
use super::progress::Progress;
use crate::app::explore::explore_run;
use crate::app::feedback::Feedback;

/// `weightscope explore RUN_DIR [--out FILE]`.
pub fn command(args: &ExploreArgs) -> Result<()> {
    let progress = Progress::new();
    let page = explore_run(&args.run, args.out.as_deref(), &progress)?;
    progress.message(&format!("open {} in a browser", page.display()));
    Ok(())
}
