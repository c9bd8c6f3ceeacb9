//! `compare RUN --reference DIR`: a run against TensorFlow's reference results.

use anyhow::Result;

use super::cli::CompareArgs;
use crate::app::compare::compare_run;

/// Prints the table and says which files it wrote.
pub fn command(args: &CompareArgs) -> Result<()> {
    let (comparison, files) = compare_run(&args.run, &args.reference)?;
    println!("{}", comparison.markdown());
    for file in files {
        println!("wrote {}", file.display());
    }
    Ok(())
}
