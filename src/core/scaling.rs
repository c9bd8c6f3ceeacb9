//! The input scaling a network was trained with, part of its description: pixels / 255, then
//! optionally `(x − mean) / std` per channel (PyTorch's `transforms.Normalize`). Every figure is
//! computed on the inputs the network sees, so a network trained on normalised images must be
//! analysed on them too.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// A number for every channel alike, or a list with one per channel, as a config gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerChannel {
    One(f32),
    Each(Vec<f32>),
}

impl PerChannel {
    fn values(&self) -> Vec<f32> {
        match self {
            PerChannel::One(v) => vec![*v],
            PerChannel::Each(v) => v.clone(),
        }
    }
}

/// `(x − mean[c]) / std[c]` for each value `x` (in [0, 1]) of channel `c`; one entry applies to
/// every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputScaling {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Default for InputScaling {
    /// Pixels / 255 and nothing more, as the article trains.
    fn default() -> Self {
        InputScaling {
            mean: vec![0.0],
            std: vec![1.0],
        }
    }
}

impl InputScaling {
    /// Mean and std from where they were given (`what` names it in errors: a config's
    /// `data.input_mean`, a flag `--input-mean`); both or neither.
    pub fn of(
        mean: Option<&PerChannel>,
        std: Option<&PerChannel>,
        names: [&str; 2],
    ) -> Result<Option<Self>> {
        match (mean, std) {
            (None, None) => Ok(None),
            (Some(m), Some(s)) => Self::new(m.values(), s.values(), names).map(Some),
            (Some(_), None) => bail!("{} is given without {}: give both", names[0], names[1]),
            (None, Some(_)) => bail!("{} is given without {}: give both", names[1], names[0]),
        }
    }

    fn new(mean: Vec<f32>, std: Vec<f32>, names: [&str; 2]) -> Result<Self> {
        let [mean_name, std_name] = names;
        if mean.is_empty() || mean.len() != std.len() {
            bail!(
                "{mean_name} has {} values and {std_name} {}: give one number, or one per channel \
                 in both",
                mean.len(),
                std.len()
            );
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            bail!("{mean_name} must be finite numbers (got {m})");
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            bail!("{std_name} must be positive numbers (got {s})");
        }
        Ok(InputScaling { mean, std })
    }

    /// A flag's comma-separated numbers, e.g. `0.1307` or `0.485,0.456,0.406`.
    pub fn parse_list(text: &str, flag: &str) -> Result<PerChannel> {
        let values = text
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                anyhow::anyhow!(
                    "{flag} {text:?} is not a number or a comma-separated list of numbers, e.g. \
                     {flag} 0.1307"
                )
            })?;
        Ok(match values.as_slice() {
            [one] => PerChannel::One(*one),
            _ => PerChannel::Each(values),
        })
    }

    pub fn is_identity(&self) -> bool {
        self.mean.iter().all(|&m| m == 0.0) && self.std.iter().all(|&s| s == 1.0)
    }

    /// Channels this scaling names one by one (1 where one value serves them all).
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Scales `values`, laid out channel last (`H x W x C`, Keras's and NumPy's order), in place.
    pub fn apply(&self, values: &mut [f32]) {
        if self.is_identity() {
            return;
        }
        for (i, v) in values.iter_mut().enumerate() {
            *v = self.apply_to_channel(*v, i);
        }
    }

    /// Scales one value of channel `channel` (or of any value index: only its channel counts).
    pub fn apply_to_channel(&self, value: f32, channel: usize) -> f32 {
        let c = channel % self.channels();
        (value - self.mean[c]) / self.std[c]
    }

    /// The value in [0, 1] a scaled value came from.
    pub fn undo(&self, value: f32, index: usize) -> f32 {
        let c = self.channels();
        value * self.std[index % c] + self.mean[index % c]
    }

    /// How the pixels become the network's inputs, in words.
    pub fn describe(&self) -> String {
        if self.is_identity() {
            return "pixels / 255".into();
        }
        let list = |v: &[f32]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.channels() == 1 {
            format!(
                "pixels / 255, then (x − {}) / {}",
                self.mean[0], self.std[0]
            )
        } else {
            format!(
                "pixels / 255, then (x − mean) / std per channel, mean ({}), std ({})",
                list(&self.mean),
                list(&self.std)
            )
        }
    }

    /// As weights-file metadata values: comma-separated numbers.
    pub fn metadata(&self) -> [(String, String); 2] {
        let join = |v: &[f32]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        [
            ("input_mean".into(), join(&self.mean)),
            ("input_std".into(), join(&self.std)),
        ]
    }
}

/// Where an imported network's input scaling came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingSource {
    /// The weights file's metadata (`input_mean`, `input_std`).
    FileMetadata,
    /// `--input-mean` and `--input-std`.
    Flag,
    /// The TensorFlow reference script, which trains on pixels / 255.
    ReferenceScript,
    /// Nothing said otherwise: pixels / 255, the article's.
    #[default]
    Default,
}

impl ScalingSource {
    pub fn describe(self) -> &'static str {
        match self {
            ScalingSource::FileMetadata => "from the weights file's metadata",
            ScalingSource::Flag => "from --input-mean and --input-std",
            ScalingSource::ReferenceScript => "the TensorFlow reference script's",
            ScalingSource::Default => {
                "the default: neither the weights file nor a flag gives one (--input-mean, \
                 --input-std)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_per_channel_and_undoes_it() {
        let s = InputScaling::of(
            Some(&PerChannel::Each(vec![0.5, 0.25])),
            Some(&PerChannel::Each(vec![0.5, 0.25])),
            ["mean", "std"],
        )
        .unwrap()
        .unwrap();
        let mut v = [1.0, 1.0, 0.5, 0.25];
        s.apply(&mut v);
        assert_eq!(v, [1.0, 3.0, 0.0, 0.0]);
        assert_eq!(s.undo(v[1], 1), 1.0);
        assert!(InputScaling::default().is_identity());
    }

    #[test]
    fn refuses_half_given_or_degenerate_scalings() {
        let one = PerChannel::One(0.1);
        let zero = PerChannel::One(0.0);
        let two = PerChannel::Each(vec![0.1, 0.2]);
        let names = ["m", "s"];
        assert!(InputScaling::of(Some(&one), None, names).is_err());
        assert!(InputScaling::of(None, Some(&one), names).is_err());
        assert!(InputScaling::of(Some(&one), Some(&zero), names).is_err());
        assert!(InputScaling::of(Some(&one), Some(&two), names).is_err());
        assert_eq!(InputScaling::of(None, None, names).unwrap(), None);
        assert!(InputScaling::parse_list("0.1,x", "--input-mean").is_err());
        assert_eq!(
            InputScaling::parse_list("0.1, 0.2", "--input-mean").unwrap(),
            two
        );
    }
}
