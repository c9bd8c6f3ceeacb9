//! `article`: the article's six-panel figure from an SLP run and an MLP run.

use anyhow::Result;

use super::cli::ArticleArgs;
use crate::app::article::article_figures;

/// `article --slp RUN --mlp RUN --out DIR`.
pub fn command(args: &ArticleArgs) -> Result<()> {
    for file in article_figures(&args.slp, &args.mlp, &args.out)? {
        println!("wrote {}", file.display());
    }
    Ok(())
}
