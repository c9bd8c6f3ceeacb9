//! An image set's values. Data files hold one byte per value, and the network reads
//! `scaling(byte / 255)`: kept as bytes with how they become inputs, the 60,000 MNIST training
//! images take 47 MB instead of 188, and a batch or a stretch of rows is made into inputs as it
//! is read, the same `f32` values bit for bit.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use crate::core::scaling::InputScaling;

/// How a byte becomes an input: `byte / 255`, then the input scaling where there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    scaling: Option<InputScaling>,
    /// Channels interleaved in the bytes.
    channels: usize,
}

impl Decoding {
    /// `scaling` gives one mean and std for all channels or one per channel (as
    /// `RunData::scaled` checks): any other count would pair bytes with the wrong channel's.
    fn of(scaling: &InputScaling, channels: usize) -> Self {
        assert!(
            scaling.channels() == 1 || scaling.channels() == channels,
            "a scaling of {} channels for pixels of {channels}",
            scaling.channels()
        );
        Decoding {
            scaling: (!scaling.is_identity()).then(|| scaling.clone()),
            channels: channels.max(1),
        }
    }

    /// The values of `bytes`, the first of channel `phase`, appended to `out`: the operations
    /// of [`InputScaling::apply`] on `byte / 255`, in its order, so the same values bit for bit.
    fn extend(&self, bytes: &[u8], phase: usize, out: &mut Vec<f32>) {
        let unit = |b: u8| f32::from(b) / 255.0;
        match &self.scaling {
            None => out.extend(bytes.iter().map(|&b| unit(b))),
            Some(s) if s.channels() == 1 => {
                let (mean, std) = (s.mean[0], s.std[0]);
                out.extend(bytes.iter().map(|&b| (unit(b) - mean) / std));
            }
            Some(s) => out.extend(
                bytes
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| s.apply_to_channel(unit(b), (phase + i) % self.channels)),
            ),
        }
    }
}

/// A set's values, row-major `[images, values per image]`.
#[derive(Debug, Clone)]
pub enum Pixels {
    /// Bytes as the data files hold them, and how they become inputs.
    Bytes {
        bytes: Vec<u8>,
        decoding: Arc<Decoding>,
    },
    /// Values given as they are (tests, other tools).
    Values(Vec<f32>),
}

/// A stretch of [`Pixels`], borrowed.
#[derive(Debug, Clone, Copy)]
pub enum PixelsRef<'a> {
    Bytes {
        bytes: &'a [u8],
        decoding: &'a Decoding,
        /// The channel of the first byte.
        phase: usize,
    },
    Values(&'a [f32]),
}

impl Pixels {
    /// Pixel bytes of `channels` interleaved channels, as `pixels / 255`.
    pub fn bytes(bytes: Vec<u8>, channels: usize) -> Self {
        Pixels::Bytes {
            bytes,
            decoding: Arc::new(Decoding::of(&InputScaling::default(), channels)),
        }
    }

    /// All the values, borrowed.
    pub fn view(&self) -> PixelsRef<'_> {
        match self {
            Pixels::Bytes { bytes, decoding } => PixelsRef::Bytes {
                bytes,
                decoding,
                phase: 0,
            },
            Pixels::Values(v) => PixelsRef::Values(v),
        }
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `index`.
    pub fn get(&self, index: usize) -> f32 {
        self.view().slice(index..index + 1).values()[0]
    }

    /// Every value, written out.
    pub fn to_vec(&self) -> Vec<f32> {
        self.view().to_vec()
    }

    /// `scaling` applied to values that are still `pixels / 255`, of `channels` interleaved
    /// channels: once (bytes take it as their decoding, values are scaled in place).
    pub fn scale(&mut self, scaling: &InputScaling, channels: usize) {
        match self {
            Pixels::Bytes { decoding, .. } => {
                *decoding = Arc::new(Decoding::of(scaling, channels));
            }
            Pixels::Values(v) => scaling.apply(v),
        }
    }
}

impl From<Vec<f32>> for Pixels {
    fn from(values: Vec<f32>) -> Self {
        Pixels::Values(values)
    }
}

impl PartialEq for Pixels {
    /// Equal values, however they are kept.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.view().values() == other.view().values()
    }
}

impl<'a> PixelsRef<'a> {
    pub fn len(&self) -> usize {
        match self {
            PixelsRef::Bytes { bytes, .. } => bytes.len(),
            PixelsRef::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values `range`, still borrowed.
    pub fn slice(&self, range: Range<usize>) -> PixelsRef<'a> {
        match *self {
            PixelsRef::Bytes {
                bytes,
                decoding,
                phase,
            } => PixelsRef::Bytes {
                phase: (phase + range.start) % decoding.channels,
                bytes: &bytes[range],
                decoding,
            },
            PixelsRef::Values(v) => PixelsRef::Values(&v[range]),
        }
    }

    /// The values: borrowed where they are kept as such, made from the bytes otherwise.
    pub fn values(&self) -> Cow<'a, [f32]> {
        match *self {
            PixelsRef::Values(v) => Cow::Borrowed(v),
            PixelsRef::Bytes { bytes, .. } => {
                let mut out = Vec::with_capacity(bytes.len());
                self.extend_into(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The values, written out.
    pub fn to_vec(&self) -> Vec<f32> {
        self.values().into_owned()
    }

    /// Asks the processor to start loading the stretch into its cache: a batch's rows lie
    /// scattered over the set, and decoding one row while the next is on its way hides part
    /// of the wait on memory that took most of a gather's time.
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let (start, len) = match *self {
                PixelsRef::Bytes { bytes, .. } => (bytes.as_ptr().cast::<i8>(), bytes.len()),
                PixelsRef::Values(v) => (v.as_ptr().cast::<i8>(), size_of_val(v)),
            };
            for offset in (0..len).step_by(64) {
                // SAFETY: the address lies within the borrowed stretch; a prefetch only hints
                // at a load and never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
            }
        }
    }

    /// The values appended to `out`.
    pub fn extend_into(&self, out: &mut Vec<f32>) {
        match *self {
            PixelsRef::Values(v) => out.extend_from_slice(v),
            PixelsRef::Bytes {
                bytes,
                decoding,
                phase,
            } => decoding.extend(bytes, phase, out),
        }
    }

    /// A copy of the stretch, kept as this one is.
    pub fn to_pixels(&self) -> Pixels {
        match *self {
            PixelsRef::Values(v) => Pixels::Values(v.to_vec()),
            PixelsRef::Bytes {
                bytes,
                decoding,
                phase,
            } => {
                // The copy's first byte is of channel 0 to it.
                let mut scaling = decoding.scaling.clone();
                if let Some(s) = scaling.as_mut().filter(|s| s.channels() > 1) {
                    s.mean.rotate_left(phase);
                    s.std.rotate_left(phase);
                }
                Pixels::Bytes {
                    bytes: bytes.to_vec(),
                    decoding: Arc::new(Decoding {
                        scaling,
                        ..*decoding
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_stand_for_the_values_scaling_makes_of_them_bit_for_bit() {
        let bytes: Vec<u8> = (0..=255).chain([3, 200, 255, 0]).collect();
        let scaling = InputScaling {
            mean: vec![0.1307, 0.5],
            std: vec![0.3081, 0.25],
        };
        let mut expected: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        let mut pixels = Pixels::bytes(bytes.clone(), 2);
        assert_eq!(pixels.to_vec(), expected, "pixels / 255 before any scaling");
        scaling.apply(&mut expected);
        pixels.scale(&scaling, 2);
        let got = pixels.to_vec();
        assert!(
            got.iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        // A stretch that starts on the second channel reads that channel's values.
        let stretch = pixels.view().slice(5..9).values().into_owned();
        assert_eq!(stretch, expected[5..9]);
        assert_eq!(pixels.get(259), expected[259]);
        assert_eq!(pixels, Pixels::Values(expected.clone()));
        assert_ne!(pixels, Pixels::Values(expected[1..].to_vec()));
        let mut owned = Vec::new();
        let copy = pixels.view().slice(1..4).to_pixels();
        copy.view().extend_into(&mut owned);
        assert_eq!(owned, expected[1..4]);
    }
}
