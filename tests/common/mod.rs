//! Tiny MNIST-format data sets made on the fly, so tests never touch the network or the real
//! data.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weightscope::data::{encode_images, encode_labels};

pub const SIDE: usize = 28;

/// Class `c` is a bright horizontal band at rows `2c+4 .. 2c+7` plus noise, so the classes
/// are separable and each has an obvious template.
pub fn synthetic(count: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(count * SIDE * SIDE);
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let class = (i % 10) as u8;
        labels.push(class);
        let band = 2 * class as usize + 4;
        for r in 0..SIDE {
            for _c in 0..SIDE {
                let base: u8 = if (band..band + 3).contains(&r) {
                    200
                } else {
                    0
                };
                let noise: u8 = rng.random_range(0..40);
                pixels.push(base.saturating_add(noise));
            }
        }
    }
    (pixels, labels)
}

pub struct Files {
    pub train_images: Vec<u8>,
    pub train_labels: Vec<u8>,
    pub test_images: Vec<u8>,
    pub test_labels: Vec<u8>,
}

impl Files {
    pub fn synthetic(train: usize, test: usize) -> Self {
        let (tp, tl) = synthetic(train, 1);
        let (sp, sl) = synthetic(test, 2);
        Self {
            train_images: encode_images(train, SIDE, SIDE, &tp),
            train_labels: encode_labels(&tl),
            test_images: encode_images(test, SIDE, SIDE, &sp),
            test_labels: encode_labels(&sl),
        }
    }

    /// Writes the four files into `dir`, gzipped when `gz` is set.
    pub fn write(&self, dir: &Path, gz: bool) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in [
            ("train-images-idx3-ubyte", &self.train_images),
            ("train-labels-idx1-ubyte", &self.train_labels),
            ("t10k-images-idx3-ubyte", &self.test_images),
            ("t10k-labels-idx1-ubyte", &self.test_labels),
        ] {
            if gz {
                write_gz(&dir.join(format!("{name}.gz")), bytes);
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }
}

pub fn write_gz(path: &Path, bytes: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// A temp folder holding a synthetic data set in `data/`, and a config pointing at it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(train: usize, test: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Files::synthetic(train, test).write(&dir.path().join("data"), true);
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    /// Writes a config for a small run; `extra` is appended inside `[training]`.
    pub fn config(&self, name: &str, hidden: &[usize], training_extra: &str) -> PathBuf {
        let hidden: Vec<String> = hidden.iter().map(|h| h.to_string()).collect();
        // `training_extra` may override the small defaults below.
        let mut training = String::new();
        for (key, value) in [("epochs", "3"), ("batch_size", "50")] {
            if !training_extra.contains(key) {
                training.push_str(&format!("{key} = {value}\n"));
            }
        }
        let text = format!(
            "seed = 7\n\n[data]\ndir = {:?}\nvalidation_split = 0.1\n\n[model]\nhidden = [{}]\n\n\
             [training]\n{training}{training_extra}\n",
            self.data_dir(),
            hidden.join(", ")
        );
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The figures every MLP run draws, by file stem.
pub const MLP_FIGURES: [&str; 7] = [
    "winners",
    "weights",
    "weights_init",
    "class_template",
    "nearest_input",
    "effective_templates",
    "dynamics",
];

/// Asserts a command succeeded (showing its stderr if not) and returns its stdout.
pub fn succeeded(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
