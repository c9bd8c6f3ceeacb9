//! `article`: the article's six-panel figure from an SLP run and an MLP run.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::cli::ArticleArgs;
use crate::analysis::pass::Analysis;
use crate::core::config::Config;
use crate::core::data::RunData;
use crate::core::metrics::Metrics;
use crate::core::weights::LayerWeights;
use crate::render::figures::{RunPanels, article_figure};
use crate::render::plot::save;
use crate::store::{ANALYSIS_FILE, METRICS_FILE, RunDir, WEIGHTS_FILE};
use crate::train::saved::load_layers;

/// A finished run read back from its folder.
pub(crate) struct LoadedRun {
    pub dir: RunDir,
    pub config: Config,
    pub metrics: Metrics,
    pub analysis: Analysis,
    pub trained: Vec<LayerWeights>,
}

impl LoadedRun {
    pub fn open(path: &Path) -> Result<Self> {
        let dir = RunDir::open(path)?;
        let config = dir.read_config()?;
        let metrics: Metrics = dir.read_json(METRICS_FILE)?;
        let analysis: Analysis = dir.read_json(ANALYSIS_FILE)?;
        let trained = load_layers(&dir, WEIGHTS_FILE, &metrics.layers, config.model.activation)?;
        Ok(Self {
            dir,
            config,
            metrics,
            analysis,
            trained,
        })
    }
}

/// The article's six-panel figure from an SLP run and an MLP run trained on the same data.
pub(crate) fn article_command(slp: &Path, mlp: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let slp = LoadedRun::open(slp)?;
    let mlp = LoadedRun::open(mlp)?;
    for (run, hidden) in [(&slp, false), (&mlp, true)] {
        if run.config.model.hidden.is_empty() == hidden {
            bail!(
                "{} is {}: pass an SLP run to --slp and an MLP run to --mlp",
                run.dir.path().display(),
                run.metrics.model
            );
        }
    }
    let data = RunData::load(&slp.config)?;
    let out = RunDir::prepare(out)?;
    let figure = article_figure(
        [&slp, &mlp].map(|r| RunPanels {
            analysis: &r.analysis,
            layers: &r.trained,
            activation: r.config.model.activation,
            model: &r.metrics.model,
        }),
        &data.full_train,
    );
    save(&figure, out.path(), "article")
}

/// `article --slp RUN --mlp RUN --out DIR`.
pub fn command(args: &ArticleArgs) -> Result<()> {
    for file in article_command(&args.slp, &args.mlp, &args.out)? {
        println!("wrote {}", file.display());
    }
    Ok(())
}
