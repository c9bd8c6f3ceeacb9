//! A sweep's runs summarised: each run reduced to a fixed list of figures, then mean and
//! spread over seeds for every group of runs that differ only by seed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::blend::BlendCurve;
use super::results::Analysis;

use crate::core::metrics::Metrics;
use crate::core::model_kind::ModelKind;

/// Mean and standard deviation (over seeds) of one figure; a single run has `n = 1`, `std = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Stat {
    pub fn single(value: f64) -> Self {
        Self {
            mean: value,
            std: 0.0,
            n: 1,
        }
    }

    /// Over the finite values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Self {
            mean,
            std: var.sqrt(),
            n,
        })
    }
}

/// Four decimals, or scientific notation for values too small to show that way.
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.1e}")
    } else {
        format!("{v:.4}")
    }
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ± {}", number(self.mean), number(self.std))
    }
}

/// The figures a sweep summarises, in the order its tables list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Figure {
    TestAccuracy,
    ProbeCosTrained,
    ProbeCosInit,
    BestMatchTrained,
    BestMatchInit,
    DiagonalTrained,
    DiagonalInit,
    OffDiagonalTrained,
    OffDiagonalInit,
    RowsMatchedTrained,
    RowsMatchedInit,
    NearestTrained,
    NearestInit,
    NearestMedianTrained,
    NearestMedianInit,
    NearestMaxTrained,
    NearestMaxInit,
    EffectiveDiagonal,
    EffectiveOffDiagonal,
    EffectiveRowsMatched,
    OutsideSpan,
    OutputDiagonalTrained,
    OutputDiagonalInit,
    OutputOffDiagonalTrained,
    OutputOffDiagonalInit,
    OutputRowsMatchedTrained,
    OutputRowsMatchedInit,
    Nc1Trained,
    Nc1Init,
    Nc3Trained,
    Nc3Init,
    BlendDelta10,
    BlendRandom10,
    N90Mean,
    SeedsCosFirst,
    SeedsCosFirstInit,
    SeedsCorrFirst,
    SeedsCorrFirstInit,
    SeedsCkaFirst,
    SeedsCkaFirstInit,
    SeedsCosOutput,
    SeedsCosOutputInit,
    SeedsCkaOutput,
    SeedsCkaOutputInit,
}

impl Figure {
    /// The name tables and `summary.json` use.
    pub fn name(self) -> &'static str {
        match self {
            Figure::TestAccuracy => "test accuracy",
            Figure::ProbeCosTrained => "probe cos, first layer, trained",
            Figure::ProbeCosInit => "probe cos, first layer, init",
            Figure::BestMatchTrained => "class template best match (centred), trained",
            Figure::BestMatchInit => "class template best match (centred), init",
            Figure::DiagonalTrained => "class template diagonal (centred), trained",
            Figure::DiagonalInit => "class template diagonal (centred), init",
            Figure::OffDiagonalTrained => "class template off-diagonal (centred), trained",
            Figure::OffDiagonalInit => "class template off-diagonal (centred), init",
            Figure::RowsMatchedTrained => "class template classes matched (centred), trained",
            Figure::RowsMatchedInit => "class template classes matched (centred), init",
            Figure::NearestTrained => "nearest input max cos, mean over neurons, trained",
            Figure::NearestInit => "nearest input max cos, mean over neurons, init",
            Figure::NearestMedianTrained => "nearest input max cos, median over neurons, trained",
            Figure::NearestMedianInit => "nearest input max cos, median over neurons, init",
            Figure::NearestMaxTrained => "nearest input max cos, max over neurons, trained",
            Figure::NearestMaxInit => "nearest input max cos, max over neurons, init",
            Figure::EffectiveDiagonal => "effective template diagonal (centred)",
            Figure::EffectiveOffDiagonal => "effective template off-diagonal (centred)",
            Figure::EffectiveRowsMatched => "effective template classes matched (centred)",
            Figure::OutsideSpan => "fraction of ΔW outside the inputs' span",
            Figure::OutputDiagonalTrained => "output layer diagonal (centred), trained",
            Figure::OutputDiagonalInit => "output layer diagonal (centred), init",
            Figure::OutputOffDiagonalTrained => "output layer off-diagonal (centred), trained",
            Figure::OutputOffDiagonalInit => "output layer off-diagonal (centred), init",
            Figure::OutputRowsMatchedTrained => "output layer classes matched (centred), trained",
            Figure::OutputRowsMatchedInit => "output layer classes matched (centred), init",
            Figure::Nc1Trained => "NC1, trained",
            Figure::Nc1Init => "NC1, init",
            Figure::Nc3Trained => "NC3, trained",
            Figure::Nc3Init => "NC3, init",
            Figure::BlendDelta10 => "r(10) of ΔW, mean over neurons",
            Figure::BlendRandom10 => "r(10) on random images, mean over neurons",
            Figure::N90Mean => "n90, mean over classes",
            Figure::SeedsCosFirst => "seed pairs: hidden layer 1 matched weight cos, trained",
            Figure::SeedsCosFirstInit => "seed pairs: hidden layer 1 matched weight cos, init",
            Figure::SeedsCorrFirst => "seed pairs: hidden layer 1 matched activation corr, trained",
            Figure::SeedsCorrFirstInit => {
                "seed pairs: hidden layer 1 matched activation corr, init"
            }
            Figure::SeedsCkaFirst => "seed pairs: hidden layer 1 CKA, trained",
            Figure::SeedsCkaFirstInit => "seed pairs: hidden layer 1 CKA, init",
            Figure::SeedsCosOutput => "seed pairs: output layer weight cos (re-ordered), trained",
            Figure::SeedsCosOutputInit => "seed pairs: output layer weight cos (re-ordered), init",
            Figure::SeedsCkaOutput => "seed pairs: output layer CKA of the logits, trained",
            Figure::SeedsCkaOutputInit => "seed pairs: output layer CKA of the logits, init",
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One run's summarised figures.
pub type RunFigures = Vec<(Figure, f64)>;

/// One run reduced to the summarised figures; a figure the run lacks (an SLP has no effective
/// templates, an imported network no baseline) is left out.
pub(crate) fn run_figures(test_accuracy: f64, a: &Analysis) -> RunFigures {
    let mut figures = vec![(Figure::TestAccuracy, Some(test_accuracy))];
    figures.extend(first_layer_figures(a));
    figures.extend(every_layer_figures(a));
    figures
        .into_iter()
        .filter_map(|(f, v)| Some((f, v?)))
        .collect()
}

type MaybeFigures = Vec<(Figure, Option<f64>)>;

/// The figures of the article's first round: the first layer, the effective templates and the
/// span test.
fn first_layer_figures(a: &Analysis) -> MaybeFigures {
    let ct = &a.class_template;
    let first = &a.probe.layers[0];
    let trained = ct.trained.diag_centered;
    let init = ct.init.as_ref();
    let nearest = a.nearest_input.first().map(|n| &n.result);
    let nearest_trained = nearest.map(|n| &n.trained.summary);
    let nearest_init = nearest.and_then(|n| n.init.as_ref()).map(|i| &i.summary);
    let init_diagonal = init.and_then(|i| i.diag_centered);
    let effective = a
        .effective_class_template
        .as_ref()
        .and_then(|e| e.diag_centered);
    vec![
        (Figure::ProbeCosTrained, Some(first.cos_trained)),
        (Figure::ProbeCosInit, first.cos_init),
        (
            Figure::BestMatchTrained,
            Some(ct.trained.best_match_mean_centered),
        ),
        (
            Figure::BestMatchInit,
            init.map(|i| i.best_match_mean_centered),
        ),
        (Figure::DiagonalTrained, trained.map(|d| d.diag_mean)),
        (Figure::DiagonalInit, init_diagonal.map(|d| d.diag_mean)),
        (Figure::OffDiagonalTrained, trained.map(|d| d.offdiag_mean)),
        (
            Figure::OffDiagonalInit,
            init_diagonal.map(|d| d.offdiag_mean),
        ),
        (
            Figure::RowsMatchedTrained,
            trained.map(|d| d.rows_diag_max as f64),
        ),
        (
            Figure::RowsMatchedInit,
            init_diagonal.map(|d| d.rows_diag_max as f64),
        ),
        (Figure::NearestTrained, nearest_trained.map(|s| s.mean)),
        (Figure::NearestInit, nearest_init.map(|s| s.mean)),
        (
            Figure::NearestMedianTrained,
            nearest_trained.map(|s| s.median),
        ),
        (Figure::NearestMedianInit, nearest_init.map(|s| s.median)),
        (Figure::NearestMaxTrained, nearest_trained.map(|s| s.max)),
        (Figure::NearestMaxInit, nearest_init.map(|s| s.max)),
        (Figure::EffectiveDiagonal, effective.map(|d| d.diag_mean)),
        (
            Figure::EffectiveOffDiagonal,
            effective.map(|d| d.offdiag_mean),
        ),
        (
            Figure::EffectiveRowsMatched,
            effective.map(|d| d.rows_diag_max as f64),
        ),
        (
            Figure::OutsideSpan,
            a.span.as_ref().map(|s| s.outside_fraction),
        ),
    ]
}

/// The every-layer figures: the output layer's self-duality, the collapse, r(10), n90.
fn every_layer_figures(a: &Analysis) -> MaybeFigures {
    let output = a.output_layer_templates().map(|l| &l.result);
    let trained = output.and_then(|o| o.trained.diag_centered);
    let init = output.and_then(|o| o.init.as_ref()?.diag_centered);
    let collapse = a.neural_collapse.as_ref().map(|c| &c.result);
    let at_10 = |curve: &BlendCurve| curve.mean_at(10);
    vec![
        (Figure::OutputDiagonalTrained, trained.map(|d| d.diag_mean)),
        (Figure::OutputDiagonalInit, init.map(|d| d.diag_mean)),
        (
            Figure::OutputOffDiagonalTrained,
            trained.map(|d| d.offdiag_mean),
        ),
        (Figure::OutputOffDiagonalInit, init.map(|d| d.offdiag_mean)),
        (
            Figure::OutputRowsMatchedTrained,
            trained.map(|d| d.rows_diag_max as f64),
        ),
        (
            Figure::OutputRowsMatchedInit,
            init.map(|d| d.rows_diag_max as f64),
        ),
        (Figure::Nc1Trained, collapse.map(|c| c.trained.nc1)),
        (
            Figure::Nc1Init,
            collapse.and_then(|c| c.init).map(|i| i.nc1),
        ),
        (Figure::Nc3Trained, collapse.and_then(|c| c.trained.nc3)),
        (
            Figure::Nc3Init,
            collapse.and_then(|c| c.init).and_then(|i| i.nc3),
        ),
        (
            Figure::BlendDelta10,
            a.blend.as_ref().and_then(|b| at_10(b.delta.as_ref()?)),
        ),
        (
            Figure::BlendRandom10,
            a.blend.as_ref().and_then(|b| at_10(&b.random)),
        ),
        (Figure::N90Mean, a.distributed.as_ref().map(|d| d.n90_mean)),
    ]
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub dataset: String,
    pub model: String,
    pub optimizer: String,
    pub seed: u64,
    pub dir: PathBuf,
    /// The model's hidden widths; `model` is their name.
    #[serde(skip)]
    pub hidden: Vec<usize>,
    /// Which of the article's models this is, where it is the article's setup (TensorFlow's
    /// reference results then apply).
    #[serde(skip)]
    pub article: Option<ModelKind>,
}

/// Where one combination stands, read from its run folder.
#[derive(Debug, Clone, PartialEq)]
pub enum CellState {
    Done(Box<(Metrics, Analysis)>),
    /// It stopped with this error (`error.txt`).
    Failed(String),
    Missing,
}

fn by_name<S: Serializer>(figures: &BTreeMap<Figure, Stat>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(figures.iter().map(|(f, v)| (f.name(), v)))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub dataset: String,
    pub model: String,
    pub optimizer: String,
    pub seeds: Vec<u64>,
    /// The model's hidden widths; `model` is their name.
    #[serde(skip)]
    pub hidden: Vec<usize>,
    #[serde(skip)]
    pub article: Option<ModelKind>,
    /// The classes of its data set (its models' output width).
    #[serde(skip)]
    pub classes: usize,
    #[serde(serialize_with = "by_name")]
    pub figures: BTreeMap<Figure, Stat>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedCell {
    pub cell: Cell,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cells: Vec<Cell>,
    pub groups: Vec<Group>,
    /// Combinations without a result yet (only in a summary asked for with `--summarize`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Cell>,
    /// Combinations whose run stopped with an error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedCell>,
}

impl Summary {
    /// Every figure any group has, each once, in [`Figure`]'s order.
    pub fn figures(&self) -> Vec<Figure> {
        let mut names: Vec<Figure> = self
            .groups
            .iter()
            .flat_map(|g| g.figures.keys().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The summary as a Markdown table, groups as columns, for `summary.md`.
    pub fn markdown(&self) -> String {
        let names = self.figures();
        let mut out = String::from("| figure |");
        for g in &self.groups {
            let _ = write!(out, " {} {} {} |", g.dataset, g.model, g.optimizer);
        }
        out.push_str("\n| --- |");
        out.push_str(&" ---: |".repeat(self.groups.len()));
        out.push('\n');
        for figure in names {
            let _ = write!(out, "| {} |", figure.name());
            for g in &self.groups {
                match g.figures.get(&figure) {
                    Some(s) => {
                        let _ = write!(out, " {s} |");
                    }
                    None => out.push_str(" |"),
                }
            }
            out.push('\n');
        }
        let seeds = self.groups.first().map_or(0, |g| g.seeds.len());
        let _ = writeln!(
            out,
            "\nMean ± standard deviation over {seeds} seeds; the seed-pair rows over every pair \
             of seeds (`weightscope match`, docs/method.md §8)."
        );
        if !self.missing.is_empty() || !self.failed.is_empty() {
            let _ = writeln!(
                out,
                "\n**Incomplete**: {} of {} combinations have no result yet, {} failed.",
                self.missing.len(),
                self.cells.len(),
                self.failed.len()
            );
            for c in &self.missing {
                let _ = writeln!(out, "- missing: {}", c.dir.display());
            }
            for f in &self.failed {
                let _ = writeln!(out, "- failed: {}: {}", f.cell.dir.display(), f.error);
            }
        }
        out
    }
}

/// Mean and spread over seeds of every finished combination, grouped by data set, model and
/// optimiser in the order the sweep file lists them (not alphabetically: mlp-16 before
/// mlp-128).
pub fn summarize(cells: &[Cell], states: &[CellState]) -> Summary {
    // Each group with the figures of each of its runs, until they are reduced to statistics.
    let mut groups: Vec<(Group, Vec<RunFigures>)> = Vec::new();
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for (cell, state) in cells.iter().zip(states) {
        let (metrics, analysis) = match state {
            CellState::Done(done) => (&done.0, &done.1),
            CellState::Failed(error) => {
                failed.push(FailedCell {
                    cell: cell.clone(),
                    error: error.clone(),
                });
                continue;
            }
            CellState::Missing => {
                missing.push(cell.clone());
                continue;
            }
        };
        let figures = run_figures(metrics.test.accuracy, analysis);
        let same = |g: &Group| {
            (&g.dataset, &g.model, &g.optimizer) == (&cell.dataset, &cell.model, &cell.optimizer)
        };
        match groups.iter_mut().find(|(g, _)| same(g)) {
            Some((group, runs)) => {
                group.seeds.push(cell.seed);
                runs.push(figures);
            }
            None => groups.push((
                Group {
                    dataset: cell.dataset.clone(),
                    model: cell.model.clone(),
                    optimizer: cell.optimizer.clone(),
                    seeds: vec![cell.seed],
                    hidden: cell.hidden.clone(),
                    article: cell.article,
                    classes: analysis.layers.last().copied().unwrap_or(0),
                    figures: BTreeMap::new(),
                },
                vec![figures],
            )),
        }
    }
    let groups = groups
        .into_iter()
        .map(|(mut group, runs)| {
            let mut values: BTreeMap<Figure, Vec<f64>> = BTreeMap::new();
            for (figure, v) in runs.into_iter().flatten() {
                values.entry(figure).or_default().push(v);
            }
            group.figures = values
                .into_iter()
                .filter_map(|(f, v)| Some((f, Stat::of(&v)?)))
                .collect();
            group
        })
        .collect();
    Summary {
        cells: cells.to_vec(),
        groups,
        missing,
        failed,
    }
}
