//! The figures of `match A B`: the best and the worst matched first-layer pairs as images, the
//! matched cosines against the initial networks', and the figures at every epoch.

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figures::{BLUE_, Charts, FigureFile, GREEN_, GREY, ORANGE, Panel, PanelGrid, RED_};
use super::plot::{Canvas, Figure, Histogram, LineChart, PlotResult, Scale, Series, titled};
use crate::analysis::matching::{EpochLayerMatch, LayerComparison, NetworkMatch, Pair};
use crate::core::data::ImageSet;
use crate::core::weights::{LayerWeights, layer_name};

const LAYER_COLOURS: [RGBColor; 4] = [BLUE_, ORANGE, GREEN_, RED_];

fn layer_colour(l: usize) -> RGBColor {
    LAYER_COLOURS[l % LAYER_COLOURS.len()]
}

/// Draws the match's figures into `dir`; `networks` are A's and B's trained layers, `test`
/// gives the images' shape. Returns the files written.
pub(crate) fn draw_match_figures(
    result: &NetworkMatch,
    trained: &[LayerComparison],
    init: Option<&[LayerComparison]>,
    networks: [&[LayerWeights]; 2],
    test: &ImageSet,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if let Some(fig) = pairs_figure(&trained[0], networks, test) {
        files.extend(FigureFile::MatchPairs.save(&fig, dir)?);
    }
    files.extend(FigureFile::MatchCosines.save(&cosines_figure(trained, init), dir)?);
    if let Some(fig) = epochs_figure(result) {
        files.extend(FigureFile::MatchEpochs.save(&fig, dir)?);
    }
    Ok(files)
}

/// Pairs shown from each end of the first layer's matching.
const SHOWN_PAIRS: usize = 4;

/// Rows of [best A, best B, worst A, worst B]: each first-layer neuron's weights as an image
/// beside its match's. Absent for a single-layer network, whose classes are not matched.
fn pairs_figure(
    first: &LayerComparison,
    [a, b]: [&[LayerWeights]; 2],
    test: &ImageSet,
) -> Option<PanelGrid> {
    first.activation_pairs.as_ref()?;
    let mut sorted: Vec<Pair> = first.weight_pairs.clone();
    sorted.sort_by(|x, y| y.2.total_cmp(&x.2));
    let shown = SHOWN_PAIRS.min(sorted.len());
    let pixels = (test.rows, test.cols, test.channels);
    let panel = |layer: &LayerWeights, neuron: usize, title: String| {
        let values = layer.column(neuron);
        let scale = Scale::diverging_of(&values);
        Panel::image(values, pixels, title, scale)
    };
    let pair_panels = |&(i, k, cos): &Pair, end: &str| {
        [
            panel(&a[0], i, format!("{end}: A {i}")),
            panel(&b[0], k, format!("B {k}, cos {cos:.2}")),
        ]
    };
    let panels = (0..shown)
        .flat_map(|r| {
            let best = pair_panels(&sorted[r], "best");
            let worst = pair_panels(&sorted[sorted.len() - 1 - r], "worst");
            best.into_iter().chain(worst)
        })
        .collect();
    Some(PanelGrid {
        title: "Hidden layer 1: the best (left) and worst (right) matched pairs, A beside B \
                (red > 0 > blue)"
            .into(),
        panels,
        grid: (shown, 4),
        panel_size: (230, 230),
        shared: None,
        panel_colorbars: false,
    })
}

/// One layer's matched cosines, trained and initial.
struct LayerCosines {
    title: String,
    trained: Vec<f64>,
    init: Option<Vec<f64>>,
}

/// One histogram per layer, stacked.
struct CosineHistograms {
    title: String,
    layers: Vec<LayerCosines>,
}

impl Figure for CosineHistograms {
    fn size(&self) -> (u32, u32) {
        (820, 40 + 300 * self.layers.len() as u32)
    }

    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let body = titled(root, &self.title)?;
        for (layer, area) in self
            .layers
            .iter()
            .zip(body.split_evenly((self.layers.len(), 1)))
        {
            let mut groups = vec![(
                "trained A vs B".to_string(),
                layer.trained.as_slice(),
                BLUE_,
            )];
            if let Some(init) = &layer.init {
                groups.push(("initial A vs B".to_string(), init.as_slice(), GREY));
            }
            Histogram {
                title: layer.title.clone(),
                x_label: "cosine of the incoming weights",
                groups,
                bins: 30,
            }
            .draw(&area.margin(0, 10, 20, 20))?;
        }
        Ok(())
    }
}

/// Every layer's matched weight cosines, trained against the two initial networks'.
fn cosines_figure(
    trained: &[LayerComparison],
    init: Option<&[LayerComparison]>,
) -> CosineHistograms {
    let layers = trained.len();
    CosineHistograms {
        title: "Matched weight cosines, trained against initial".into(),
        layers: trained
            .iter()
            .enumerate()
            .map(|(l, t)| LayerCosines {
                title: format!(
                    "{}: {}",
                    layer_name(layers, l),
                    if l + 1 == layers {
                        "each class's weights with its own in B"
                    } else {
                        "matched neurons"
                    }
                ),
                trained: t.weight_scores(),
                init: init.map(|i| i[l].weight_scores()),
            })
            .collect(),
    }
}

/// Matched cosine, matched activation correlation and CKA at every epoch both sides saved;
/// absent with fewer than two such epochs.
fn epochs_figure(result: &NetworkMatch) -> Option<Charts<'static>> {
    if result.epochs.len() < 2 {
        return None;
    }
    let layers = result.layers.len();
    let series =
        |f: &dyn Fn(usize, &EpochLayerMatch) -> Option<f64>, dashed: bool, suffix: &str| {
            (0..layers)
                .filter_map(|l| {
                    let points: Vec<(f64, f64)> = result
                        .epochs
                        .iter()
                        .filter_map(|e| f(l, &e.layers[l]).map(|v| (e.epoch as f64, v)))
                        .collect();
                    (!points.is_empty()).then(|| {
                        let s = Series::new(
                            format!("{}{suffix}", layer_name(layers, l)),
                            points,
                            layer_colour(l),
                        );
                        if dashed { s.dashed() } else { s }
                    })
                })
                .collect::<Vec<_>>()
        };
    let mut similarity = series(&|_, e| Some(e.weight_cos_mean), false, ", weights");
    similarity.extend(series(
        &|_, e| e.activation_corr_mean,
        true,
        ", activations",
    ));
    let cka = series(&|_, e| Some(e.cka), false, "");
    Some(Charts {
        title: "A against B over training".into(),
        size: (820, 640),
        grid: (2, 1),
        lines: vec![
            LineChart {
                title: "Mean matched cosine (weights) and correlation (activations)".into(),
                x_label: "epoch",
                y_label: "mean over neurons",
                series: similarity,
                x_log10: false,
            },
            LineChart {
                title: "Linear CKA of the layer's activations (test images)".into(),
                x_label: "epoch",
                y_label: "CKA",
                series: cka,
                x_log10: false,
            },
        ],
    })
}
