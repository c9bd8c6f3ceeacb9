//! Each snapshot's reading, taken as soon as the snapshot exists. While a network trains, the
//! snapshots of the epochs done so far can be read beside it (on a core the training leaves to
//! the reader), so that after training only the trained weights' reading and the whole-run
//! figures remain.

use std::collections::BTreeMap;

use super::context::Context;
use super::every_layer::{BlendBaselines, EveryLayer};
use super::layer_view::LayerView;
use super::linalg::Matrix;
use super::nearest::NearestInput;
use super::pixel_templates::pixel_and_effective_templates;
use super::results::{AnalysisInputs, EpochFigures, Snapshot};
use crate::core::weights::LayerWeights;

/// Which weights a snapshot holds, which decides what its reading computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The initial weights: the baseline of every trained-against-initial figure.
    Initial,
    /// An epoch between: the dynamics and the explorer page only.
    Between,
    /// The trained weights (also a network's only snapshot).
    Trained,
}

impl Role {
    /// The role of snapshot `index` of `count`, which run from the initial weights (when
    /// there are several) to the trained ones.
    pub(super) fn of(index: usize, count: usize) -> Self {
        if index + 1 == count {
            Role::Trained
        } else if index == 0 {
            Role::Initial
        } else {
            Role::Between
        }
    }
}

/// A snapshot's pixel and effective templates over the test images: what the analysis needs of
/// the initial weights, and the explorer page of every epoch.
pub(super) struct SnapshotTemplates {
    pub(super) pixel: Vec<Matrix>,
    pub(super) effective: Option<Matrix>,
}

/// What one snapshot's pass over the training file leaves for the rest of the analysis.
pub(super) struct Reading {
    pub(super) role: Role,
    pub(super) figures: EpochFigures,
    pub(super) nearest: Vec<NearestInput>,
    /// The every-layer figures, of the initial and the trained weights.
    pub(super) every: Option<EveryLayer>,
    /// The trained weights' blend baselines.
    pub(super) baselines: Vec<BlendBaselines>,
    /// The explorer page's view of every layer, where the analysis is asked for them.
    pub(super) views: Option<Vec<LayerView>>,
    /// Taken alongside training only; the analysis computes the others itself.
    pub(super) templates: Option<SnapshotTemplates>,
}

impl Context<'_> {
    /// One snapshot's reading; `init` is the initial weights, which the trained weights' blend
    /// baselines compare with.
    pub(super) fn read(
        &self,
        snapshot: &Snapshot,
        role: Role,
        init: Option<&[LayerWeights]>,
    ) -> Reading {
        let r = self.snapshot_figures(snapshot, role != Role::Between);
        let mut figures = r.figures;
        let (mut every, mut baselines) = (None, Vec::new());
        if let Some(gathered) = r.gathered {
            let rows = self.layer_rows(gathered.hidden_rows);
            let all = self.every_layer(&snapshot.layers, &r.hidden, &rows, gathered.candidates);
            all.fill_dynamics(&mut figures);
            if role == Role::Trained {
                baselines = self.blend_baselines(&snapshot.layers, init, &rows);
            }
            every = Some(all);
        }
        Reading {
            role,
            figures,
            nearest: r.nearest,
            every,
            baselines,
            views: r.views,
            templates: None,
        }
    }

    /// `layers`' pixel and effective templates over the test images.
    pub(super) fn templates(&self, layers: &[LayerWeights]) -> SnapshotTemplates {
        let (activation, test) = (self.inputs.activation, self.inputs.test);
        let (pixel, effective) =
            pixel_and_effective_templates(layers, activation, &self.test_images, test);
        SnapshotTemplates { pixel, effective }
    }
}

/// The readings of a run's snapshots taken while it trained, for its analysis.
pub struct EarlyReadings<'a> {
    pub(super) context: Option<Context<'a>>,
    pub(super) readings: BTreeMap<usize, Reading>,
}

impl EarlyReadings<'_> {
    /// No reading taken: the analysis reads every snapshot itself.
    pub fn none() -> Self {
        EarlyReadings {
            context: None,
            readings: BTreeMap::new(),
        }
    }

    /// The epochs read.
    pub fn epochs(&self) -> Vec<usize> {
        self.readings.keys().copied().collect()
    }
}

/// Reads a training run's snapshots one by one as they are saved, each as the analysis would;
/// the trained weights' snapshot is left to the analysis, which reads it with the rest.
pub struct Alongside<'a> {
    context: Context<'a>,
    epochs: usize,
    readings: BTreeMap<usize, Reading>,
}

impl<'a> Alongside<'a> {
    /// For a run of `epochs` epochs whose analysis will read `inputs` (their snapshots, if
    /// any, are ignored: they come one by one).
    pub fn new(inputs: &AnalysisInputs<'a>, epochs: usize) -> Self {
        Alongside {
            context: Context::new(inputs),
            epochs,
            readings: BTreeMap::new(),
        }
    }

    /// Reads `snapshot`, the weights after epoch `snapshot.epoch` (0: the initial ones).
    pub fn read(&mut self, snapshot: &Snapshot) {
        if snapshot.epoch >= self.epochs {
            return;
        }
        let role = if snapshot.epoch == 0 {
            Role::Initial
        } else {
            Role::Between
        };
        let mut reading = self.context.read(snapshot, role, None);
        if role == Role::Initial || reading.views.is_some() {
            reading.templates = Some(self.context.templates(&snapshot.layers));
        }
        self.readings.insert(snapshot.epoch, reading);
    }

    pub fn finish(self) -> EarlyReadings<'a> {
        EarlyReadings {
            context: Some(self.context),
            readings: self.readings,
        }
    }
}
