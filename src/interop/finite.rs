//! Weights must be numbers: a NaN or an infinity (a diverged training run, a damaged file)
//! would turn every figure computed from them into NaN.

use anyhow::{Result, bail};

/// Refuses `values` unless every one is finite; `what` names them in the error.
pub(crate) fn check(what: &str, values: &[f32]) -> Result<()> {
    let mut bad = values.iter().enumerate().filter(|(_, v)| !v.is_finite());
    if let Some((first, value)) = bad.next() {
        bail!(
            "{what} holds {} values that are not finite numbers, the first ({value}) at index \
             {first}: export the weights of a run that did not diverge",
            1 + bad.count()
        );
    }
    Ok(())
}
