//! What a data set's classes are called, and where the names came from: a `classes.txt` beside
//! the data (one name per line), Fashion-MNIST's ten articles, MNIST's digits, or else the
//! class numbers, said as such. Figures, the report and the explorer show these names.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// A class label: 0 to `MAX_CLASSES - 1`.
pub type Label = u16;

/// The most classes weightscope analyses (ImageNet's 1,000).
pub const MAX_CLASSES: usize = 1000;

/// The file beside a data set's files that names its classes, one per line, class 0 first.
pub const CLASSES_FILE: &str = "classes.txt";

/// Fashion-MNIST's classes, in label order (Xiao, Rasul and Vollgraf, 2017).
const FASHION_MNIST: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamesSource {
    /// A `classes.txt` beside the data.
    File(PathBuf),
    /// The folder is Fashion-MNIST's (its name says so).
    FashionMnist,
    /// The folder is MNIST's: the classes are the digits.
    Digits,
    /// Nothing names them: class 0, 1, …
    Numbers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassNames {
    pub names: Vec<String>,
    pub source: NamesSource,
}

impl ClassNames {
    /// The names of `classes` classes of the data set at `data` (a folder of IDX files or an
    /// `.npz` file), which may record them itself (`recorded`).
    pub fn of_data(data: &Path, classes: usize, recorded: Option<Vec<String>>) -> Result<Self> {
        if let Some(names) = recorded {
            if names.len() != classes {
                bail!(
                    "{}'s class_names has {} names but the labels have {classes} classes: give \
                     one name per class",
                    data.display(),
                    names.len()
                );
            }
            return Ok(ClassNames {
                names,
                source: NamesSource::File(data.to_path_buf()),
            });
        }
        let beside = if data.is_dir() {
            data
        } else {
            data.parent().unwrap_or(Path::new("."))
        };
        let file = beside.join(CLASSES_FILE);
        if file.is_file() {
            return Self::from_file(&file, classes);
        }
        let folder = data
            .file_stem()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (names, source) = if folder.contains("fashion") && classes == FASHION_MNIST.len() {
            (
                FASHION_MNIST.iter().map(ToString::to_string).collect(),
                NamesSource::FashionMnist,
            )
        } else if folder.contains("mnist") && classes == 10 {
            (
                (0..10).map(|c| c.to_string()).collect(),
                NamesSource::Digits,
            )
        } else {
            (
                (0..classes).map(|c| c.to_string()).collect(),
                NamesSource::Numbers,
            )
        };
        Ok(ClassNames { names, source })
    }

    fn from_file(file: &Path, classes: usize) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the class names in {}", file.display()))?;
        let names: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if names.len() != classes {
            bail!(
                "{} names {} classes but the labels have {classes}: give one name per line, class \
                 0 first",
                file.display(),
                names.len()
            );
        }
        Ok(ClassNames {
            names,
            source: NamesSource::File(file.to_path_buf()),
        })
    }

    /// Whether the images are handwritten digits, which the explorer's pad prepares as MNIST
    /// prepared its digits.
    pub fn are_digits(&self) -> bool {
        self.source == NamesSource::Digits
    }

    /// Where the names came from, in words.
    pub fn describe(&self) -> String {
        match &self.source {
            NamesSource::File(path) => format!("from {}", path.display()),
            NamesSource::FashionMnist => "Fashion-MNIST's, as the folder's name says".into(),
            NamesSource::Digits => "MNIST's digits, as the folder's name says".into(),
            NamesSource::Numbers => format!(
                "numbered 0–{}: no {CLASSES_FILE} beside the data names them",
                self.names.len().saturating_sub(1)
            ),
        }
    }

    /// Class `c`'s name.
    pub fn name(&self, c: usize) -> &str {
        self.names.get(c).map_or("?", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_file_the_folder_or_the_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("shapes");
        std::fs::create_dir(&named).unwrap();
        std::fs::write(named.join(CLASSES_FILE), "circle\n square \n\ntriangle\n").unwrap();
        let names = ClassNames::of_data(&named, 3, None).unwrap();
        assert_eq!(names.names, ["circle", "square", "triangle"]);
        assert!(!names.are_digits());
        let wrong = ClassNames::of_data(&named, 4, None)
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains("names 3 classes but the labels have 4"),
            "{wrong}"
        );
        let fashion = ClassNames::of_data(Path::new("/x/fashion-mnist"), 10, None).unwrap();
        assert_eq!(fashion.name(9), "Ankle boot");
        assert!(
            ClassNames::of_data(Path::new("data/mnist"), 10, None)
                .unwrap()
                .are_digits()
        );
        let other = ClassNames::of_data(Path::new("/x/letters"), 3, None).unwrap();
        assert_eq!(
            (other.names.clone(), other.source),
            (
                vec!["0".into(), "1".into(), "2".into()],
                NamesSource::Numbers
            )
        );
    }
}
