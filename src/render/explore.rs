//! `explore.html`: one self-contained page to poke at a run. The page carries every saved
//! epoch's weights, the test images, the training images it can show and, per epoch, what
//! only a search over the whole training file gives (each neuron's most similar training
//! inputs, its mean output per class, the effective templates, every deeper neuron's pixel
//! template); it runs the forward pass itself. Layout and behaviour are in
//! `templates/explore.html` and `assets/explore.{js,css}`.
//!
//! Binary arrays travel as base64 of raw deflate, a list of pieces deflated side by side (the
//! browser's `DecompressionStream` inflates them, and the page joins them). Weights, the bulk, are stored as each epoch's f32 bit patterns XOR the
//! previous epoch's, split into byte planes, which deflate to 70% of their size where raw
//! floats barely shrink; the page undoes both steps, so it computes with the exact weights.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine as _;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use minijinja::Environment;
use rayon::prelude::*;
use serde::Serialize;

use crate::analysis::explorer::EpochView;
use crate::analysis::linalg::Matrix;
use crate::analysis::results::{Snapshot, initial_and_trained};
use crate::core::classes::ClassNames;
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::drawing::{CANVAS, PEN_RADIUS};
use crate::core::scaling::InputScaling;
use crate::store::atomic::write_atomic;

/// Training images the page can always show, besides every neuron's most similar ones: the
/// first ones of the file (the probe among them).
pub const FIRST_TRAINING_IMAGES: usize = 1000;

/// The run and data the page shows.
pub struct ExplorePage<'a> {
    pub model: &'a str,
    pub activation: Activation,
    pub probe_index: usize,
    /// Epoch 0 (initial) first; only the trained weights where the initial ones are unknown.
    pub snapshots: &'a [Snapshot],
    /// What to call each snapshot where it is no epoch of a training run ("initial",
    /// "trained" for an import); epochs otherwise.
    pub snapshot_names: Option<Vec<&'static str>>,
    pub views: &'a [EpochView],
    pub train: &'a ImageSet,
    pub test: &'a ImageSet,
    /// What was done to the pixels / 255 of `train` and `test`; the page does the same.
    pub scaling: &'a InputScaling,
    pub class_names: &'a ClassNames,
}

#[derive(Serialize)]
struct PageData {
    model: String,
    activation: String,
    widths: Vec<usize>,
    epochs: Vec<usize>,
    /// Whether the first epoch holds the initial weights (imported weights may come without).
    initial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_names: Option<Vec<&'static str>>,
    probe_index: usize,
    /// The network's inputs are (pixels / 255 − mean) / std, channel last.
    input_mean: Vec<f32>,
    input_std: Vec<f32>,
    image_rows: usize,
    image_cols: usize,
    image_channels: usize,
    class_names: Vec<String>,
    /// Handwritten digits, which a drawing is prepared as MNIST prepared them.
    digits: bool,
    first_training_images: usize,
    canvas: usize,
    pen_radius: f64,
    neighbours_per_neuron: usize,
    weights: Vec<String>,
    test: Images,
    train: Images,
    neighbours: Vec<String>,
    cosines: Vec<String>,
    class_means: Vec<String>,
    /// Per epoch, 10 × pixels quantised to i8, and each epoch's scale back; empty for an SLP.
    effective: Vec<String>,
    effective_scales: Vec<f32>,
    /// Per epoch, every layer after the first: neurons × pixels quantised to i8, and each
    /// (epoch, layer)'s scale back; empty for an SLP.
    pixel_templates: Vec<String>,
    pixel_template_scales: Vec<f32>,
}

#[derive(Serialize)]
struct Images {
    count: usize,
    /// The images' indices in their file (u32), for a subset; empty when all are present.
    indices: Vec<String>,
    /// u16 each.
    labels: Vec<String>,
    /// Pixels as bytes, 0–255.
    pixels: Vec<String>,
}

/// Bytes deflated at a time, each piece on its own core. Deflate looks back 32 KiB at most, so
/// pieces this long compress as well as the whole.
const PACKED_PIECE: usize = 1 << 20;

/// How hard the page's arrays are deflated: the default level made the article MLP's page 1%
/// larger than the best (8.69 against 8.61 MB of deflated data) in a ninth of the time, with
/// flate2's former backend; zlib-rs, used now, makes 0.2% more than that, faster.
const PACKING: Compression = Compression::new(6);

/// `bytes` deflated piece by piece (each piece a raw deflate stream in base64), in parallel;
/// the page inflates the pieces and joins them.
fn packed(bytes: &[u8]) -> Vec<String> {
    bytes
        .par_chunks(PACKED_PIECE)
        .map(|piece| {
            let mut encoder = DeflateEncoder::new(Vec::new(), PACKING);
            encoder
                .write_all(piece)
                .expect("deflating into memory cannot fail");
            let deflated = encoder.finish().expect("deflating into memory cannot fail");
            base64::engine::general_purpose::STANDARD.encode(deflated)
        })
        .collect()
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// Every epoch's weights (per layer the kernel, row-major `d_in x d_out`, then the bias), each
/// float's bits XOR the previous epoch's, as four byte planes.
fn packed_weights(snapshots: &[Snapshot]) -> Vec<String> {
    let epochs: Vec<Vec<u32>> = snapshots
        .iter()
        .map(|s| {
            s.layers
                .iter()
                .flat_map(|l| l.weight.iter().chain(&l.bias).map(|v| v.to_bits()))
                .collect()
        })
        .collect();
    let mut planes: [Vec<u8>; 4] = Default::default();
    for (e, bits) in epochs.iter().enumerate() {
        for (i, &b) in bits.iter().enumerate() {
            let x = if e == 0 { b } else { b ^ epochs[e - 1][i] };
            for (p, plane) in planes.iter_mut().enumerate() {
                plane.push((x >> (8 * p)) as u8);
            }
        }
    }
    packed(&planes.concat())
}

/// The images' pixels as bytes again, the scaling undone; the page scales them as weightscope
/// did.
fn image_bytes(set: &ImageSet, indices: &[usize], scaling: &InputScaling) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(indices.len() * set.pixels());
    for &i in indices {
        let image = set.image(i);
        bytes.extend(
            image
                .iter()
                .enumerate()
                .map(|(p, &v)| (scaling.undo(v, p) * 255.0).round() as u8),
        );
    }
    bytes
}

fn images(set: &ImageSet, indices: Option<&[usize]>, scaling: &InputScaling) -> Images {
    let all: Vec<usize> = (0..set.len()).collect();
    let chosen = indices.unwrap_or(&all);
    Images {
        count: chosen.len(),
        indices: indices.map_or_else(Vec::new, |i| {
            packed(
                &i.iter()
                    .flat_map(|&v| (v as u32).to_le_bytes())
                    .collect::<Vec<_>>(),
            )
        }),
        labels: packed(
            &chosen
                .iter()
                .flat_map(|&i| set.labels[i].to_le_bytes())
                .collect::<Vec<_>>(),
        ),
        pixels: packed(&image_bytes(set, chosen, scaling)),
    }
}

/// Matrices quantised one by one: `round(v / scale)` with `scale = max |v| / 127`; the
/// templates the page shows need no more than a colour's precision.
fn quantised<'m>(matrices: impl Iterator<Item = &'m Matrix>) -> (Vec<String>, Vec<f32>) {
    let mut bytes = Vec::new();
    let mut scales = Vec::new();
    for m in matrices {
        let largest = m.data.iter().fold(0f32, |a, v| a.max(v.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        bytes.extend(m.data.iter().map(|v| (v / scale).round() as i8 as u8));
        scales.push(scale);
    }
    (packed(&bytes), scales)
}

fn page_data(page: &ExplorePage<'_>) -> PageData {
    let shown: BTreeSet<usize> = (0..FIRST_TRAINING_IMAGES.min(page.train.len()))
        .chain(std::iter::once(page.probe_index))
        .chain(
            page.views
                .iter()
                .flat_map(|v| &v.layers)
                .flat_map(|l| l.neighbours.iter().map(|&i| i as usize)),
        )
        .collect();
    let shown: Vec<usize> = shown.into_iter().collect();
    let layers = page.views.iter().flat_map(|v| &v.layers);
    let (effective, effective_scales) =
        quantised(page.views.iter().filter_map(|v| v.effective.as_ref()));
    let (pixel_templates, pixel_template_scales) =
        quantised(page.views.iter().flat_map(|v| &v.pixel_templates));
    let first = &page.snapshots[0].layers;
    PageData {
        model: page.model.to_string(),
        activation: page.activation.to_string(),
        widths: std::iter::once(first[0].d_in)
            .chain(first.iter().map(|l| l.d_out))
            .collect(),
        epochs: page.snapshots.iter().map(|s| s.epoch).collect(),
        initial: initial_and_trained(page.snapshots).0.is_some(),
        snapshot_names: page.snapshot_names.clone(),
        probe_index: page.probe_index,
        input_mean: page.scaling.mean.clone(),
        input_std: page.scaling.std.clone(),
        image_rows: page.test.rows,
        image_cols: page.test.cols,
        image_channels: page.test.channels,
        class_names: page.class_names.names.clone(),
        digits: page.class_names.are_digits(),
        first_training_images: FIRST_TRAINING_IMAGES.min(page.train.len()),
        canvas: CANVAS,
        pen_radius: PEN_RADIUS,
        neighbours_per_neuron: crate::analysis::explorer::NEIGHBOURS,
        weights: packed_weights(page.snapshots),
        test: images(page.test, None, page.scaling),
        train: images(page.train, Some(&shown), page.scaling),
        neighbours: packed(
            &layers
                .clone()
                .flat_map(|l| l.neighbours.iter().flat_map(|v| v.to_le_bytes()))
                .collect::<Vec<_>>(),
        ),
        cosines: packed(&f32_bytes(
            layers.clone().flat_map(|l| l.cosines.iter().copied()),
        )),
        class_means: packed(&f32_bytes(
            layers.flat_map(|l| l.class_means.data.iter().copied()),
        )),
        effective,
        effective_scales,
        pixel_templates,
        pixel_template_scales,
    }
}

/// The page as HTML.
pub fn explore_html(page: &ExplorePage<'_>) -> Result<String> {
    let data = serde_json::to_string(&page_data(page))?
        // Inside a <script> element, "</" could end it early.
        .replace("</", "<\\/");
    let mut env = Environment::new();
    env.add_template("explore.html", include_str!("templates/explore.html"))?;
    let html = env.get_template("explore.html")?.render(minijinja::context! {
        title => format!("weightscope explorer: {}", page.model),
        data => minijinja::Value::from_safe_string(data),
        script => minijinja::Value::from_safe_string(include_str!("assets/explore.js").to_string()),
        style => minijinja::Value::from_safe_string(include_str!("assets/explore.css").to_string()),
    })?;
    Ok(html)
}

/// Writes the page to `path`, whole or not at all.
pub fn write_explore_page(page: &ExplorePage<'_>, path: &Path) -> Result<()> {
    let html = explore_html(page)?;
    write_atomic(path, html.as_bytes())
        .with_context(|| format!("could not write the explorer page {}", path.display()))
}
