//! A run against TensorFlow neuron by neuron: its neurons matched with those of TensorFlow's
//! seed-12345 network (`reference/tensorflow/weights`), and, for the lockstep configs, which
//! start from TensorFlow's initial weights and see the same batches, each neuron's cosine with
//! its TensorFlow twin after training, without matching.

use std::fmt::Write as _;

use super::REFERENCE_DIR;
use crate::analysis::forward::images_matrix;
use crate::analysis::linalg::{Summary, summarize};
use crate::analysis::matching::{CentredOutputs, LayerMatch, compare_observed, twin_cosines};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::{LayerWeights, layer_name};

/// The reference script's seed-12345 weights, within the reference folder.
pub const WEIGHTS_DIR: &str = "weights";
/// Its lockstep run's trained weights, within the reference folder.
pub const LOCKSTEP_WEIGHTS_DIR: &str = "lockstep/weights";
/// The seed whose weights the reference folder keeps.
pub const WEIGHTS_SEED: u64 = 12345;

/// A run's neurons against TensorFlow's.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronComparison {
    /// The run against TensorFlow's seed-12345 network, matched, with their initial weights
    /// matched as the baseline.
    pub matched: Vec<LayerMatch>,
    /// For a lockstep run: each layer's cosines of every neuron with its twin.
    pub twins: Option<Vec<Summary>>,
}

/// A network as the comparison needs it: trained and initial weights.
pub struct Weights<'a> {
    pub trained: &'a [LayerWeights],
    pub init: &'a [LayerWeights],
}

/// The run against TensorFlow's seed-12345 network (both ReLU networks of the article's setup,
/// trained on pixels / 255, tested on `test`), and, for a lockstep run, against the trained
/// weights of TensorFlow's lockstep run.
pub fn compare_neurons(
    run: Weights<'_>,
    tensorflow: Weights<'_>,
    lockstep_twin: Option<&[LayerWeights]>,
    test: &ImageSet,
) -> NeuronComparison {
    // One matrix of the test images for all four networks: they all read pixels / 255.
    let images = images_matrix(test);
    let observe = |layers: &[LayerWeights]| CentredOutputs::over(layers, Activation::Relu, &images);
    let compare = |ours: &[LayerWeights], theirs: &[LayerWeights]| {
        compare_observed(ours, &observe(ours), theirs, &observe(theirs))
    };
    let trained = compare(run.trained, tensorflow.trained);
    let init = compare(run.init, tensorflow.init);
    let matched = trained
        .iter()
        .zip(&init)
        .enumerate()
        .map(|(l, (t, i))| LayerMatch::of(l, t, Some(i)))
        .collect();
    let twins = lockstep_twin.map(|twin| {
        twin_cosines(run.trained, twin)
            .iter()
            .map(|c| summarize(c))
            .collect()
    });
    NeuronComparison { matched, twins }
}

impl NeuronComparison {
    /// The section `comparison.md` gains.
    pub fn markdown(&self) -> String {
        let layers = self.matched.len();
        let mut out = format!(
            "\n## Neuron by neuron against TensorFlow's seed-{WEIGHTS_SEED} network\n\n\
             Each neuron matched one-to-one with TensorFlow's by the cosine of their incoming \
             weights (`weightscope match`, docs/method.md §8); the two initial networks matched \
             the same way are the baseline.\n\n\
             | layer | matched weight cosine, mean (median) | initial | activation correlation | \
             initial | CKA | initial |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        );
        let mm = |m: Option<crate::analysis::matching::MeanMedian>| {
            m.map_or_else(
                || "—".into(),
                |m| format!("{:.3} ({:.3})", m.mean, m.median),
            )
        };
        for l in &self.matched {
            let init = l.init.as_ref().expect("both initial networks are known");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} |",
                layer_name(layers, l.layer),
                mm(Some(l.weight_cos)),
                mm(Some(init.weight_cos)),
                mm(l.activation_corr),
                mm(init.activation_corr),
                l.cka,
                init.cka
            );
        }
        if let Some(twins) = &self.twins {
            let _ = write!(
                out,
                "\nLockstep: the run started from TensorFlow's initial weights and saw the same \
                 batches, so each neuron has a twin in TensorFlow's lockstep network \
                 (`{REFERENCE_DIR}/{LOCKSTEP_WEIGHTS_DIR}`). Cosine of each neuron's incoming \
                 weights with its twin's after training:\n\n\
                 | layer | mean | median | min | max |\n| --- | ---: | ---: | ---: | ---: |\n"
            );
            for (l, s) in twins.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                    layer_name(layers, l),
                    s.mean,
                    s.median,
                    s.min,
                    s.max
                );
            }
        }
        out
    }
}
