//! The run's figures, built from `analysis.json`'s numbers, the weights and the data.

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analysis::distributed::selectivity_indices;
use crate::analysis::forward::{Propagation, hidden_activations, propagate};
use crate::analysis::linalg::Matrix;
use crate::analysis::results::{Analysis, EpochFigures, TrainedAndInit};
use crate::analysis::templates::Diagonal;
use crate::core::classes::ClassNames;
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::metrics::EpochMetrics;
use crate::core::provenance::Provenance;
use crate::core::weights::{LayerWeights, layer_name};
use crate::render::plot::{
    self, Canvas, Figure, Heatmap, Histogram, LineChart, PlotResult, Scale, Series, colorbar,
    image_shape, titled,
};
use crate::tensorflow::compare::Comparison;

pub(crate) const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED_: RGBColor = RGBColor(214, 39, 40);
pub(crate) const GREY: RGBColor = RGBColor(127, 127, 127);

/// One image in a grid of panels.
pub(crate) struct Panel {
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub title: String,
    pub scale: Scale,
    pub x_label: &'static str,
    pub y_label: &'static str,
    pub annotate: bool,
    /// Images keep square pixels; a wide matrix may stretch its cells to fill the panel.
    pub square_cells: bool,
    /// Values per cell: 3 draws each cell in colour, its channels on the scale.
    pub channels: usize,
    /// The rows' names (classes), where they have names.
    pub row_names: Option<Vec<String>>,
}

impl Panel {
    /// An image of a vector: `pixels` (rows, columns, channels) for a vector of pixels, in
    /// colour for three channels; otherwise the squarest grid (16x8 for 128).
    pub fn image(
        values: Vec<f32>,
        pixels: (usize, usize, usize),
        title: String,
        scale: Scale,
    ) -> Self {
        let (rows, cols, channels) = if values.len() == pixels.0 * pixels.1 * pixels.2 {
            pixels
        } else {
            let (rows, cols) = image_shape(values.len());
            (rows, cols, 1)
        };
        Self {
            values,
            rows,
            cols,
            title,
            scale,
            x_label: "",
            y_label: "",
            annotate: false,
            square_cells: true,
            channels,
            row_names: None,
        }
    }
}

/// Panels in a grid; with `shared` set, one colour bar on the right serves every panel.
pub(crate) struct PanelGrid {
    pub title: String,
    pub panels: Vec<Panel>,
    pub grid: (usize, usize),
    pub panel_size: (u32, u32),
    pub shared: Option<Scale>,
    /// Without a shared bar, whether each panel gets its own.
    pub panel_colorbars: bool,
}

impl Figure for PanelGrid {
    fn size(&self) -> (u32, u32) {
        let extra = if self.shared.is_some() { 80 } else { 0 };
        (
            self.panel_size.0 * self.grid.1 as u32 + extra,
            self.panel_size.1 * self.grid.0 as u32 + 40,
        )
    }

    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let body = titled(root, &self.title)?;
        let (w, _) = body.dim_in_pixel();
        let (cells, bar) = match self.shared {
            Some(_) => body.split_horizontally(w - 80),
            None => (body.clone(), body.clone()),
        };
        for (panel, area) in self.panels.iter().zip(cells.split_evenly(self.grid)) {
            Heatmap {
                values: &panel.values,
                rows: panel.rows,
                cols: panel.cols,
                title: panel.title.clone(),
                scale: panel.scale,
                x_label: panel.x_label,
                y_label: panel.y_label,
                annotate: panel.annotate,
                square_cells: panel.square_cells,
                channels: panel.channels,
                row_names: panel.row_names.as_deref(),
                colorbar: self.shared.is_none() && self.panel_colorbars && panel.channels == 1,
            }
            .draw(&area)?;
        }
        if let Some(scale) = self.shared {
            colorbar(&bar.margin(40, 40, 0, 0), scale)?;
        }
        Ok(())
    }
}

/// Stacked charts: a histogram and/or line charts, one per row.
pub(crate) struct Charts<'a> {
    pub title: String,
    pub size: (u32, u32),
    pub grid: (usize, usize),
    pub lines: Vec<LineChart<'a>>,
}

impl Figure for Charts<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let body = titled(root, &self.title)?;
        for (chart, area) in self.lines.iter().zip(body.split_evenly(self.grid)) {
            chart.draw(&area)?;
        }
        Ok(())
    }
}

/// The nearest-input figure: histogram above, the most input-like neurons below.
pub(crate) struct NearestFigure<'a> {
    pub title: String,
    pub histogram: Histogram<'a>,
    pub pairs: PanelGrid,
}

impl Figure for NearestFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.pairs.size();
        (w, h + 300)
    }

    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let body = titled(root, &self.title)?;
        let (top, bottom) = body.split_vertically(280);
        self.histogram.draw(&top.margin(0, 0, 60, 60))?;
        self.pairs.draw(&bottom)
    }
}

/// Everything the figures need besides the analysis numbers.
pub(crate) struct FigureInputs<'a> {
    pub analysis: &'a Analysis,
    pub provenance: Provenance<'a>,
    pub trained: &'a [LayerWeights],
    /// Absent where the initial weights are unknown.
    pub init: Option<&'a [LayerWeights]>,
    /// Every layer's pixel templates (`neurons x pixels`), trained and (where known) initial.
    pub pixel_templates: &'a TrainedAndInit<Vec<Matrix>>,
    pub train: &'a ImageSet,
    pub test: &'a ImageSet,
    pub class_names: &'a ClassNames,
}

impl FigureInputs<'_> {
    /// The images' rows, columns and channels.
    fn pixels(&self) -> (usize, usize, usize) {
        (self.train.rows, self.train.cols, self.train.channels)
    }
}

/// The article's panels for one model: for each layer, its input beside the weight column of
/// its most active neuron. Each panel is scaled to its own min..max in viridis, as
/// matplotlib's `imshow` does.
pub(crate) fn winner_panels(
    analysis: &Analysis,
    layers: &[LayerWeights],
    activation: Activation,
    probe: &[f32],
    probe_class: &str,
    pixels: (usize, usize, usize),
    model: &str,
) -> Vec<Panel> {
    let x = Matrix::new(1, probe.len(), probe.to_vec());
    let Propagation { inputs, .. } = propagate(layers, activation, &x);
    let mut panels = Vec::new();
    for (l, w) in analysis.probe.layers.iter().enumerate() {
        let input = inputs[l].row(0).to_vec();
        let input_title = if l == 0 {
            format!(
                "probe: training image {} (label {probe_class})",
                analysis.probe.index
            )
        } else {
            format!("{model} {} activation", layer_name(layers.len(), l - 1))
        };
        panels.push(Panel::image(
            input.clone(),
            pixels,
            input_title,
            Scale::viridis_of(&input),
        ));
        let column = layers[l].column(w.winner);
        panels.push(Panel::image(
            column.clone(),
            pixels,
            format!(
                "{model} {} winner: neuron {}, cos {:.3}{}",
                layer_name(layers.len(), l),
                w.winner,
                w.cos_trained,
                w.cos_init
                    .map(|c| format!(" (init {c:.3})"))
                    .unwrap_or_default()
            ),
            Scale::viridis_of(&column),
        ));
    }
    panels
}

pub(crate) fn winners_figure(inputs: &FigureInputs<'_>) -> PanelGrid {
    let probe = &inputs.analysis.probe;
    let panels = winner_panels(
        inputs.analysis,
        inputs.trained,
        inputs.provenance.activation(),
        &inputs.train.image(probe.index),
        inputs.class_names.name(usize::from(probe.label)),
        inputs.pixels(),
        inputs.provenance.model(),
    );
    PanelGrid {
        title: format!(
            "{}: winner neurons for the probe image ({}, each panel its own scale)",
            inputs.provenance.model(),
            if inputs.train.channels == 3 {
                "colour"
            } else {
                "viridis"
            }
        ),
        grid: (panels.len() / 2, 2),
        panels,
        panel_size: (430, 380),
        shared: None,
        panel_colorbars: true,
    }
}

/// The colour bar of a figure of signed values over the pixels: none for colour images, whose
/// cells mix three channels (each bright where positive, dark where negative, mid-grey at 0).
fn signed_bar(channels: usize, scale: Scale) -> Option<Scale> {
    (channels == 1).then_some(scale)
}

/// More neurons than this make an unreadable grid and an SVG of tens of megabytes.
const MAX_WEIGHT_PANELS: usize = 256;

/// The first-layer weight columns as images (all of them, up to 256), on one symmetric
/// diverging scale.
pub(crate) fn weights_figure(
    layers: &[LayerWeights],
    pixels: (usize, usize, usize),
    model: &str,
    which: &str,
) -> PanelGrid {
    let layer = &layers[0];
    let scale = Scale::diverging_of(&layer.weight);
    let shown = layer.d_out.min(MAX_WEIGHT_PANELS);
    let cols = if shown <= 10 { 5 } else { 16 };
    let grid = (shown.div_ceil(cols), cols);
    let panels = (0..shown)
        .map(|j| Panel::image(layer.column(j), pixels, format!("{j}"), scale))
        .collect();
    let small = layer.d_out <= 10;
    let which_neurons = if shown < layer.d_out {
        format!("the first {shown} of {}", layer.d_out)
    } else {
        "every".into()
    };
    PanelGrid {
        title: format!(
            "{model}: {which} weights of {which_neurons} {} neuron{} ({})",
            layer_name(layers.len(), 0),
            if shown < layer.d_out { "s" } else { "" },
            if pixels.2 == 3 {
                "each channel bright > 0 > dark"
            } else {
                "red > 0 > blue"
            }
        ),
        panels,
        grid,
        panel_size: if small { (220, 210) } else { (110, 110) },
        shared: signed_bar(pixels.2, scale),
        panel_colorbars: false,
    }
}

/// Class names for a matrix's rows, where they fit beside it (a dozen classes at most).
fn row_names(rows: usize, names: &ClassNames) -> Option<Vec<String>> {
    (rows <= 12 && names.names.len() == rows).then(|| names.names.clone())
}

pub(crate) fn class_template_figure(
    analysis: &Analysis,
    names: &ClassNames,
    model: &str,
) -> PanelGrid {
    let ct = &analysis.class_template;
    let k = ct.trained.matrix.first().map_or(0, Vec::len);
    let annotate = k <= 12;
    let panel = |m: &Vec<Vec<f64>>, title: String| {
        let values: Vec<f32> = m.iter().flatten().map(|&v| v as f32).collect();
        Panel {
            rows: m.len(),
            cols: k,
            scale: Scale::diverging_of(&values),
            values,
            title,
            x_label: "neuron k",
            y_label: "class c",
            annotate,
            square_cells: annotate,
            channels: 1,
            row_names: row_names(m.len(), names),
        }
    };
    let diag = |d: &Option<crate::analysis::templates::Diagonal>| {
        d.map(|d| {
            format!(
                ", diag {:.3} vs off {:.3}, {}/{} rows",
                d.diag_mean,
                d.offdiag_mean,
                d.rows_diag_max,
                analysis.classes()
            )
        })
        .unwrap_or_default()
    };
    // Trained beside initial in each row, where the initial weights are known.
    let mut panels = Vec::new();
    for centred in [false, true] {
        let which = if centred { ", class means centred" } else { "" };
        let versions = [
            ("trained", Some(&ct.trained)),
            ("initial", ct.init.as_ref()),
        ];
        for (name, template) in versions {
            let Some(t) = template else { continue };
            let (matrix, d) = if centred {
                (&t.matrix_centered, &t.diag_centered)
            } else {
                (&t.matrix, &t.diag)
            };
            panels.push(panel(matrix, format!("{name}{which}{}", diag(d))));
        }
    }
    let columns = panels.len() / 2;
    PanelGrid {
        title: format!("{model}: cos(mean image of class c, weight column k) of the first layer"),
        panels,
        grid: (2, columns),
        panel_size: if annotate { (560, 460) } else { (900, 300) },
        shared: None,
        panel_colorbars: true,
    }
}

pub(crate) fn nearest_figure<'a>(
    inputs: &'a FigureInputs<'a>,
    top: usize,
) -> Option<NearestFigure<'a>> {
    let nearest = inputs.analysis.nearest_input.first()?;
    let trained = &nearest.result.trained;
    let mut order: Vec<usize> = (0..trained.cos.len()).collect();
    order.sort_by(|&a, &b| trained.cos[b].total_cmp(&trained.cos[a]));
    let top = top.min(order.len());
    let layer = &inputs.trained[nearest.layer];
    let mut panels = Vec::new();
    for &j in &order[..top] {
        let column = layer.column(j);
        panels.push(Panel::image(
            column.clone(),
            inputs.pixels(),
            format!("neuron {j}: cos {:.3}", trained.cos[j]),
            Scale::diverging_of(&column),
        ));
    }
    for &j in &order[..top] {
        let image = inputs.train.image(trained.index[j]).into_owned();
        panels.push(Panel::image(
            image.clone(),
            inputs.pixels(),
            format!(
                "image {} (label {})",
                trained.index[j],
                inputs.class_names.name(usize::from(trained.label[j]))
            ),
            Scale::viridis_of(&image),
        ));
    }
    let init = nearest.result.init.as_ref();
    let mut groups = vec![("trained".to_string(), trained.cos.as_slice(), RED_)];
    groups.extend(init.map(|i| ("initial".to_string(), i.cos.as_slice(), BLUE_)));
    Some(NearestFigure {
        title: format!(
            "{}: how much does each {} neuron look like some training image?",
            inputs.provenance.model(),
            layer_name(inputs.trained.len(), nearest.layer)
        ),
        histogram: Histogram {
            title: format!(
                "max over training images of cos(weights, image): trained mean {:.3}{}",
                trained.summary.mean,
                init.map(|i| format!(", initial mean {:.3}", i.summary.mean))
                    .unwrap_or_default()
            ),
            x_label: "max cosine to any training image",
            groups,
            bins: 30,
        },
        pairs: PanelGrid {
            title: format!(
                "the {top} most input-like neurons (top) and their nearest training images (bottom)"
            ),
            panels,
            grid: (2, top),
            panel_size: (190, 200),
            shared: None,
            panel_colorbars: false,
        },
    })
}

/// A pixel fewer than this share of the training images ink is left out of the input-gradient
/// figures: its first-layer weights barely move from their random start, and every gradient
/// carries them.
const RARELY_INKED: f64 = 0.05;

/// `values` over the pixels, NaN (drawn grey) where fewer than [`RARELY_INKED`] of `train`'s
/// images ink the pixel.
fn inked_only(values: &[f32], inked: &[bool]) -> Vec<f32> {
    values
        .iter()
        .zip(inked)
        .map(|(&v, &ink)| if ink { v } else { f32::NAN })
        .collect()
}

/// Per pixel, whether at least [`RARELY_INKED`] of the images ink it.
fn inked_pixels(train: &ImageSet) -> Vec<bool> {
    let mut counts = vec![0usize; train.pixels()];
    for i in 0..train.len() {
        for (c, &v) in counts.iter_mut().zip(train.image(i).iter()) {
            *c += usize::from(v > 0.0);
        }
    }
    let least = RARELY_INKED * train.len() as f64;
    counts.into_iter().map(|c| c as f64 >= least).collect()
}

pub(crate) fn effective_figure(
    inputs: &FigureInputs<'_>,
    inked: &[bool],
    model: &str,
) -> Option<PanelGrid> {
    let analysis = inputs.analysis;
    let templates: Vec<Vec<f32>> = analysis
        .effective_templates
        .as_ref()?
        .iter()
        .map(|t| inked_only(t, inked))
        .collect();
    let all: Vec<f32> = templates.iter().flatten().copied().collect();
    let scale = Scale::diverging_at_quantile(&all, 0.99);
    let classes = templates.len();
    let ect = analysis.effective_class_template.as_ref();
    let panels = templates
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let cos = ect.map(|c| c.matrix_centered[k][k]).unwrap_or(f64::NAN);
            let name = inputs.class_names.name(k);
            Panel::image(
                t.clone(),
                inputs.pixels(),
                format!("{name}: cos {cos:.3}"),
                scale,
            )
        })
        .collect();
    Some(PanelGrid {
        title: format!(
            "{model}: effective templates, mean d logit_k / d input over test images of class k (cos with centred class mean; grey: inked in < 5% of training images)"
        ),
        panels,
        grid: (classes.div_ceil(classes.clamp(1, 5)), classes.clamp(1, 5)),
        panel_size: (240, 220),
        shared: signed_bar(inputs.train.channels, scale),
        panel_colorbars: false,
    })
}

/// Every layer after the first: each neuron's pixel template as an image (up to 256 of them).
fn pixel_template_figures(
    inputs: &FigureInputs<'_>,
    inked: &[bool],
    model: &str,
) -> Vec<(usize, PanelGrid)> {
    let layers = inputs.trained.len();
    if layers < 2 {
        return Vec::new();
    }
    inputs
        .pixel_templates
        .trained
        .iter()
        .enumerate()
        .skip(1)
        .map(|(l, templates)| {
            let shown = templates.rows.min(MAX_WEIGHT_PANELS);
            let values: Vec<Vec<f32>> = (0..shown)
                .map(|j| inked_only(templates.row(j), inked))
                .collect();
            let scale = Scale::diverging_at_quantile(&values.concat(), 0.99);
            let panels = values
                .into_iter()
                .enumerate()
                .map(|(j, v)| Panel::image(v, inputs.pixels(), format!("{j}"), scale))
                .collect();
            let cols = if shown <= 10 { 5 } else { 16 };
            let which = if shown < templates.rows {
                format!(", the first {shown} of {} neurons", templates.rows)
            } else {
                String::new()
            };
            let grid = PanelGrid {
                title: format!(
                    "{model}, {}{which}: pixel templates, mean dz/dx over test images (grey: inked in < 5% of training images)",
                    layer_name(layers, l)
                ),
                panels,
                grid: (shown.div_ceil(cols), cols),
                panel_size: if shown <= 10 { (220, 210) } else { (110, 110) },
                shared: signed_bar(inputs.train.channels, scale),
                panel_colorbars: false,
            };
            (l, grid)
        })
        .collect()
}

const SERIES_COLOURS: [RGBColor; 5] = [RED_, BLUE_, GREEN_, ORANGE, GREY];

/// A figure of the dynamics as (epoch, value) points, epoch 0 first.
fn over_epochs(analysis: &Analysis, f: impl Fn(&EpochFigures) -> f64) -> Vec<(f64, f64)> {
    analysis
        .dynamics
        .iter()
        .map(|e| (e.epoch as f64, f(e)))
        .collect()
}

fn history_chart(history: &[EpochMetrics]) -> LineChart<'static> {
    let hist = |f: fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|m| (m.epoch as f64, f(m))).collect()
    };
    LineChart {
        x_log10: false,
        title: "loss and accuracy".into(),
        x_label: "epoch",
        y_label: "value",
        series: vec![
            Series::new("loss", hist(|m| m.loss), RED_),
            Series::new("val_loss", hist(|m| m.val_loss.unwrap_or(f64::NAN)), RED_).dashed(),
            Series::new("accuracy", hist(|m| m.accuracy), BLUE_),
            Series::new(
                "val_accuracy",
                hist(|m| m.val_accuracy.unwrap_or(f64::NAN)),
                BLUE_,
            )
            .dashed(),
        ],
    }
}

fn probe_chart(analysis: &Analysis) -> LineChart<'static> {
    let layers = analysis.layers.len() - 1;
    let series = (0..layers)
        .map(|l| {
            Series::new(
                layer_name(layers, l),
                over_epochs(analysis, |e| e.probe_cos[l]),
                SERIES_COLOURS[l % SERIES_COLOURS.len()],
            )
        })
        .collect();
    LineChart {
        x_log10: false,
        title: format!(
            "probe (image {}): cos(layer input, winner weights)",
            analysis.probe.index
        ),
        x_label: "epoch",
        y_label: "cosine",
        series,
    }
}

fn class_template_chart(analysis: &Analysis) -> LineChart<'static> {
    let mut series = vec![Series::new(
        "best-matching neuron per class (centred), mean",
        over_epochs(analysis, |e| e.class_template_best_match_centered),
        RED_,
    )];
    let centred = |e: &EpochFigures| e.class_template_centered;
    if analysis.dynamics.iter().all(|e| centred(e).is_some()) {
        let of = |f: fn(&Diagonal) -> f64| {
            move |e: &EpochFigures| centred(e).map_or(f64::NAN, |d| f(&d))
        };
        series.push(Series::new(
            "diagonal mean (centred)",
            over_epochs(analysis, of(|d| d.diag_mean)),
            BLUE_,
        ));
        series.push(
            Series::new(
                "off-diagonal mean (centred)",
                over_epochs(analysis, of(|d| d.offdiag_mean)),
                GREY,
            )
            .dashed(),
        );
    }
    LineChart {
        x_log10: false,
        title: "class templates: cos(class mean, first-layer weights)".into(),
        x_label: "epoch",
        y_label: "cosine",
        series,
    }
}

fn nearest_chart(analysis: &Analysis) -> LineChart<'static> {
    let layers = analysis.layers.len() - 1;
    let measured = analysis
        .dynamics
        .first()
        .map_or(0, |e| e.nearest_input.len());
    let mut series = Vec::new();
    for l in 0..measured {
        let c = SERIES_COLOURS[l % SERIES_COLOURS.len()];
        let name = layer_name(layers, l);
        series.push(Series::new(
            format!("{name} mean"),
            over_epochs(analysis, |e| e.nearest_input[l].mean),
            c,
        ));
        series.push(
            Series::new(
                format!("{name} max"),
                over_epochs(analysis, |e| e.nearest_input[l].max),
                c,
            )
            .dashed(),
        );
        series.push(
            Series::new(
                format!("{name} min"),
                over_epochs(analysis, |e| e.nearest_input[l].min),
                GREY,
            )
            .dashed(),
        );
    }
    LineChart {
        x_log10: false,
        title: "nearest training image: per-neuron max cosine".into(),
        x_label: "epoch",
        y_label: "cosine",
        series,
    }
}

pub(crate) fn dynamics_figure(
    analysis: &Analysis,
    model: &str,
    history: &[EpochMetrics],
) -> Charts<'static> {
    Charts {
        title: format!(
            "{}: training and similarity to inputs over epochs (epoch 0 = initial weights)",
            model
        ),
        size: (1300, 900),
        grid: (2, 2),
        lines: vec![
            history_chart(history),
            probe_chart(analysis),
            class_template_chart(analysis),
            nearest_chart(analysis),
        ],
    }
}

/// The figure files of a run folder (`figures/<name>.png` and `.svg`), in the order the
/// report shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FigureFile {
    Winners,
    Weights,
    WeightsInit,
    ClassTemplate,
    NearestInput,
    EffectiveTemplates,
    Dynamics,
    LossVsTensorflow,
    LayerTemplates,
    Collapse,
    Blend,
    Distributed,
    /// The pixel templates of one layer after the first.
    PixelTemplates(usize),
    /// `match`: the best and the worst matched first-layer pairs as images.
    MatchPairs,
    /// `match`: the matched cosines of every hidden layer, trained against initial.
    MatchCosines,
    /// `match`: matched cosine and CKA at every epoch.
    MatchEpochs,
}

impl FigureFile {
    pub fn name(self) -> String {
        let name = match self {
            FigureFile::Winners => "winners",
            FigureFile::Weights => "weights",
            FigureFile::WeightsInit => "weights_init",
            FigureFile::ClassTemplate => "class_template",
            FigureFile::NearestInput => "nearest_input",
            FigureFile::EffectiveTemplates => "effective_templates",
            FigureFile::Dynamics => "dynamics",
            FigureFile::LossVsTensorflow => "loss_vs_tensorflow",
            FigureFile::LayerTemplates => "layer_templates",
            FigureFile::Collapse => "collapse",
            FigureFile::Blend => "blend",
            FigureFile::Distributed => "distributed",
            FigureFile::PixelTemplates(layer) => return format!("pixel_templates_layer{layer}"),
            FigureFile::MatchPairs => "match_pairs",
            FigureFile::MatchCosines => "match_cosines",
            FigureFile::MatchEpochs => "match_epochs",
        };
        name.to_string()
    }

    /// Draws `figure` into `dir` as this file's PNG and SVG.
    pub(crate) fn save<F: Figure>(self, figure: &F, dir: &Path) -> Result<Vec<PathBuf>> {
        plot::save(figure, dir, &self.name())
    }
}

/// Draws every figure of a run into `dir`; returns the files written.
pub(crate) fn draw_all(inputs: &FigureInputs<'_>, dir: &Path) -> Result<Vec<PathBuf>> {
    let model = inputs.provenance.model();
    let mut files = Vec::new();
    files.extend(FigureFile::Winners.save(&winners_figure(inputs), dir)?);
    files.extend(FigureFile::Weights.save(
        &weights_figure(inputs.trained, inputs.pixels(), model, "trained"),
        dir,
    )?);
    if let Some(init) = inputs.init {
        files.extend(FigureFile::WeightsInit.save(
            &weights_figure(init, inputs.pixels(), model, "initial"),
            dir,
        )?);
    }
    files.extend(FigureFile::ClassTemplate.save(
        &class_template_figure(inputs.analysis, inputs.class_names, model),
        dir,
    )?);
    if let Some(fig) = nearest_figure(inputs, 8) {
        files.extend(FigureFile::NearestInput.save(&fig, dir)?);
    }
    // Which pixels the training images ink: the input-gradient figures grey out the others.
    let inked = inked_pixels(inputs.train);
    if let Some(fig) = effective_figure(inputs, &inked, model) {
        files.extend(FigureFile::EffectiveTemplates.save(&fig, dir)?);
    }
    if let Some(fig) = layer_templates_figure(inputs.analysis, inputs.class_names, model) {
        files.extend(FigureFile::LayerTemplates.save(&fig, dir)?);
    }
    for (layer, fig) in pixel_template_figures(inputs, &inked, model) {
        files.extend(FigureFile::PixelTemplates(layer).save(&fig, dir)?);
    }
    if let Some(fig) = blend_figure(inputs.analysis, model) {
        files.extend(FigureFile::Blend.save(&fig, dir)?);
    }
    if let Some(fig) = distributed_figure(inputs) {
        files.extend(FigureFile::Distributed.save(&fig, dir)?);
    }
    let history = inputs.provenance.history();
    if !history.is_empty()
        && let Some(fig) = collapse_figure(inputs.analysis, model)
    {
        files.extend(FigureFile::Collapse.save(&fig, dir)?);
    }
    // Weights imported without their training history have no curves to draw.
    if !history.is_empty() {
        let figure = dynamics_figure(inputs.analysis, model, history);
        files.extend(FigureFile::Dynamics.save(&figure, dir)?);
    }
    Ok(files)
}

/// What one run contributes to the article's figure.
pub(crate) struct RunPanels<'a> {
    pub analysis: &'a Analysis,
    pub layers: &'a [LayerWeights],
    pub activation: Activation,
    pub model: &'a str,
}

/// The article's figure: probe | SLP winner; probe | hidden winner; hidden activation (16x8) |
/// output winner (16x8), each panel in viridis on its own min..max.
pub(crate) fn article_figure(runs: [RunPanels<'_>; 2], train: &ImageSet) -> PanelGrid {
    let panels: Vec<Panel> = runs
        .iter()
        .flat_map(|r| {
            winner_panels(
                r.analysis,
                r.layers,
                r.activation,
                &train.image(r.analysis.probe.index),
                &r.analysis.probe.label.to_string(),
                (train.rows, train.cols, train.channels),
                r.model,
            )
        })
        .collect();
    PanelGrid {
        title: "The article's figure: what the winning neurons' weights look like".into(),
        grid: (panels.len() / 2, 2),
        panels,
        panel_size: (430, 380),
        shared: None,
        panel_colorbars: true,
    }
}

/// weightscope's training loss per epoch beside TensorFlow's runs of the same setup.
pub(crate) struct LossFigure<'a> {
    pub comparison: &'a Comparison,
}

impl Figure for LossFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: Canvas>(
        &self,
        root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    ) -> PlotResult {
        use plotters::prelude::*;
        let colors = [
            RGBColor(214, 39, 40),
            RGBColor(31, 119, 180),
            RGBColor(44, 160, 44),
            RGBColor(255, 127, 14),
        ];
        let series = self
            .comparison
            .curves
            .iter()
            .enumerate()
            .map(|(i, (label, points))| {
                let s = Series::new(label.clone(), points.clone(), colors[i % colors.len()]);
                if i == 0 { s } else { s.dashed() }
            })
            .collect();
        LineChart {
            x_log10: false,
            title: format!(
                "{}: training loss per epoch, weightscope and TensorFlow",
                self.comparison.model
            ),
            x_label: "epoch",
            y_label: "training loss (running mean over the epoch)",
            series,
        }
        .draw(root)
    }
}

/// Every layer after the first against the centred class means of its own inputs, trained
/// beside initial: for the output layer, does neuron k become the mean hidden code of class k?
pub(crate) fn layer_templates_figure(
    analysis: &Analysis,
    names: &ClassNames,
    model: &str,
) -> Option<PanelGrid> {
    let layers = analysis.layer_class_templates.len();
    let later = analysis
        .layer_class_templates
        .get(1..)
        .filter(|l| !l.is_empty())?;
    let mut panels = Vec::new();
    for entry in later {
        let versions = [
            ("trained", Some(&entry.result.trained)),
            ("initial", entry.result.init.as_ref()),
        ];
        for (which, template) in versions {
            let Some(t) = template else { continue };
            let m = &t.matrix_centered;
            let k = m.first().map_or(0, Vec::len);
            let values: Vec<f32> = m.iter().flatten().map(|&v| v as f32).collect();
            let diagonal = t
                .diag_centered
                .map(|d| {
                    format!(
                        ", diag {:.3} vs off {:.3}, {}/{} rows",
                        d.diag_mean,
                        d.offdiag_mean,
                        d.rows_diag_max,
                        analysis.classes()
                    )
                })
                .unwrap_or_default();
            panels.push(Panel {
                rows: m.len(),
                cols: k,
                scale: Scale::diverging_of(&values),
                values,
                title: format!(
                    "{}, {which}: input {}{diagonal}",
                    layer_name(layers, entry.layer),
                    entry.input
                ),
                x_label: "neuron k",
                y_label: "class c",
                annotate: k <= 12,
                square_cells: k <= 12,
                channels: 1,
                row_names: row_names(m.len(), names),
            });
        }
    }
    let columns = if later[0].result.init.is_some() { 2 } else { 1 };
    let annotated = later
        .iter()
        .all(|e| e.result.trained.matrix.first().map_or(0, Vec::len) <= 12);
    Some(PanelGrid {
        title: format!(
            "{model}: cos(centred class mean of a layer's input, its neuron k), every layer after the first"
        ),
        grid: (panels.len() / columns, columns),
        panels,
        // Wide layers get wide panels; the output layer's 10 x 10 among them still needs height.
        panel_size: if annotated { (560, 460) } else { (900, 460) },
        shared: None,
        panel_colorbars: true,
    })
}

/// Every hidden layer's NC1, NC3 and the output layer's diagonal over the epochs.
pub(crate) fn collapse_figure(analysis: &Analysis, model: &str) -> Option<Charts<'static>> {
    let collapse = analysis.neural_collapse.as_ref()?;
    let layers = analysis.layers.len() - 1;
    let of = |f: fn(&EpochFigures) -> Option<f64>| {
        over_epochs(analysis, move |e| f(e).unwrap_or(f64::NAN))
    };
    let hidden_layers = analysis.dynamics.first().map_or(0, |e| e.nc1_layers.len());
    let mut series: Vec<Series> = if hidden_layers > 1 {
        let shades = [RED_, ORANGE, GREEN_, GREY];
        (0..hidden_layers)
            .map(|l| {
                let nc1 = over_epochs(analysis, |e| {
                    e.nc1_layers.get(l).copied().unwrap_or(f64::NAN)
                });
                Series::new(
                    format!("NC1 of {}", layer_name(layers, l)),
                    nc1,
                    shades[l % shades.len()],
                )
            })
            .collect()
    } else {
        vec![Series::new("NC1 = tr(Σ_W Σ_B⁺)/K", of(|e| e.nc1), RED_)]
    };
    series.push(Series::new("NC3 = |W/|W| − M/|M||²", of(|e| e.nc3), BLUE_).dashed());
    Some(Charts {
        title: format!(
            "{model}: neural collapse over the epochs (NC3 of {}; epoch 0 = initial weights)",
            layer_name(layers, collapse.layer)
        ),
        size: (1300, 520),
        grid: (1, 2),
        lines: vec![
            LineChart {
                x_log10: false,
                title: "within-class spread and classifier vs class means".into(),
                x_label: "epoch",
                y_label: "value (0 = collapsed)",
                series,
            },
            LineChart {
                x_log10: false,
                title: "output layer: cos(centred class mean of its input, neuron k)".into(),
                x_label: "epoch",
                y_label: "cosine",
                series: vec![Series::new(
                    "diagonal mean (neuron k, class k)",
                    of(|e| e.output_diag_centered),
                    GREEN_,
                )],
            },
        ],
    })
}

/// r(k) over k for each layer: its trained weights, their change, the initial weights and
/// random inputs of the layer.
pub(crate) fn blend_figure(analysis: &Analysis, model: &str) -> Option<Charts<'static>> {
    let layers = analysis.layers.len() - 1;
    let lines: Vec<LineChart<'static>> = analysis
        .layer_blend
        .iter()
        .map(|b| blend_chart(&b.blend, &layer_name(layers, b.layer), b.layer == 0))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let n = lines.len();
    Some(Charts {
        title: format!(
            "{model}: how much of each neuron its k most similar inputs explain, every layer"
        ),
        size: (900.max(620 * n as u32), 560),
        grid: (1, n),
        lines,
    })
}

fn blend_chart(
    blend: &crate::analysis::results::Blend,
    layer: &str,
    reads_pixels: bool,
) -> LineChart<'static> {
    let curve = |c: &crate::analysis::blend::BlendCurve| -> Vec<(f64, f64)> {
        blend
            .k
            .iter()
            .zip(&c.mean)
            .map(|(&k, &r)| ((k as f64).log10(), r))
            .collect()
    };
    let mut series = vec![Series::new(
        "trained weights w",
        curve(&blend.trained),
        RED_,
    )];
    if let Some(d) = &blend.delta {
        series.push(Series::new(
            "their change Δw = w − w_init",
            curve(d),
            ORANGE,
        ));
    }
    if let Some(i) = &blend.init {
        series.push(Series::new("initial weights", curve(i), GREY).dashed());
    }
    series.push(Series::new("w on k random inputs", curve(&blend.random), BLUE_).dashed());
    LineChart {
        x_log10: true,
        title: format!("{layer}: r(k) = |P_k v|² / |v|², mean over neurons"),
        x_label: if reads_pixels {
            "k, the most similar training images (log scale)"
        } else {
            "k, the most similar hidden codes (log scale)"
        },
        y_label: "share of |v|² explained",
        series,
    }
}

/// The distributed-code figure: n90 per class of the last hidden layer, and the class
/// selectivity of every hidden layer's neurons, trained against initial.
pub(crate) struct DistributedFigure {
    title: String,
    n90: LineChart<'static>,
    selectivity: Vec<LayerSelectivities>,
}

/// One hidden layer's selectivity indices, trained and initial.
struct LayerSelectivities {
    layer: String,
    trained: Vec<f64>,
    init: Option<Vec<f64>>,
}

impl Figure for DistributedFigure {
    fn size(&self) -> (u32, u32) {
        (1300, 520.max(300 * self.selectivity.len() as u32 + 60))
    }

    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult {
        let body = titled(root, &self.title)?;
        let (left, right) = body.split_horizontally(650);
        self.n90.draw(&left)?;
        let rows = right.split_evenly((self.selectivity.len(), 1));
        for (layer, area) in self.selectivity.iter().zip(rows) {
            let mut groups = vec![("trained".to_string(), layer.trained.as_slice(), RED_)];
            if let Some(init) = &layer.init {
                groups.push(("initial".to_string(), init.as_slice(), GREY));
            }
            Histogram {
                title: format!("class selectivity of each neuron of {}", layer.layer),
                x_label: "selectivity index (0 = no preference, 1 = one class only)",
                groups,
                bins: 20,
            }
            .draw(&area)?;
        }
        Ok(())
    }
}

pub(crate) fn distributed_figure(inputs: &FigureInputs<'_>) -> Option<DistributedFigure> {
    let code = inputs.analysis.distributed.as_ref()?;
    let layers = inputs.analysis.layers.len() - 1;
    let indices = |weights: &[LayerWeights]| -> Vec<Vec<f64>> {
        hidden_activations(weights, inputs.provenance.activation(), inputs.test)
            .iter()
            .map(|h| selectivity_indices(h, &inputs.test.labels))
            .collect()
    };
    let mut init = inputs.init.map(|i| indices(i).into_iter());
    let selectivity = indices(inputs.trained)
        .into_iter()
        .enumerate()
        .map(|(l, trained)| LayerSelectivities {
            layer: layer_name(layers, l),
            trained,
            init: init.as_mut().and_then(Iterator::next),
        })
        .collect();
    let width = inputs.trained[code.layer].d_out;
    let classes: Vec<(f64, f64)> = code
        .n90
        .iter()
        .enumerate()
        .map(|(c, &n)| (c as f64, n as f64))
        .collect();
    Some(DistributedFigure {
        title: format!(
            "{}: how distributed the hidden code is ({} has {width} neurons)",
            inputs.provenance.model(),
            layer_name(layers, code.layer)
        ),
        n90: LineChart {
            x_log10: false,
            title: format!(
                "{}: neurons carrying 90% of each logit's evidence (mean {:.1})",
                layer_name(layers, code.layer),
                code.n90_mean
            ),
            x_label: "class",
            y_label: "n90",
            series: vec![
                Series::new("n90, trained weights", classes, RED_),
                Series::new(
                    format!("all {width} neurons of the layer"),
                    vec![(0.0, width as f64), (9.0, width as f64)],
                    GREY,
                )
                .dashed(),
            ],
        },
        selectivity,
    })
}
