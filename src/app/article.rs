//! The article's six-panel figure from an SLP run and an MLP run.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::finished::FinishedRun;
use crate::core::model_kind::ModelKind;
use crate::render::figures::{RunPanels, article_figure};
use crate::render::plot::save;
use crate::store::RunDir;

/// Draws `article.png` and `article.svg` into `out`; returns the files written.
pub fn article_figures(slp: &Path, mlp: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let slp = FinishedRun::open(slp)?;
    let mlp = FinishedRun::open(mlp)?;
    for (run, kind) in [(&slp, ModelKind::Slp), (&mlp, ModelKind::Mlp)] {
        if ModelKind::of_widths(&run.metrics.layers) != kind {
            bail!(
                "{} is {}: pass an SLP run to --slp and an MLP run to --mlp",
                run.dir.path().display(),
                run.metrics.model
            );
        }
    }
    let data = slp.data()?;
    let loaded =
        [&slp, &mlp].map(|run| -> Result<_> { Ok((run, run.analysis()?, run.trained()?)) });
    let [slp, mlp] = loaded;
    let (slp, mlp) = (slp?, mlp?);
    let out = RunDir::prepare(out)?;
    let figure = article_figure(
        [&slp, &mlp].map(|(run, analysis, trained)| RunPanels {
            analysis,
            layers: trained,
            activation: run.config.model.activation,
            model: &run.metrics.model,
        }),
        &data.full_train,
    );
    save(&figure, out.path(), "article")
}
