//! The IDX reader on good files. Broken ones, and their messages, are cases of the bad-input
//! corpus (tests/bad_inputs/cases.toml).

use crate::common::Files;
use crate::common::{encode_images, encode_labels};
use weightscope::core::data::Mnist;

#[test]
fn reads_raw_and_gzipped_files_identically() {
    let files = Files::synthetic(30, 20);
    let raw = tempfile::tempdir().unwrap();
    let gz = tempfile::tempdir().unwrap();
    files.write(raw.path(), false);
    files.write(gz.path(), true);
    let a = Mnist::load(raw.path()).unwrap();
    let b = Mnist::load(gz.path()).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.test, b.test);
    assert_eq!((a.train.len(), a.test.len()), (30, 20));
    assert_eq!((a.train.rows, a.train.cols), (28, 28));
    assert_eq!(a.train.labels[..12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
}

#[test]
fn scales_pixels_to_unit_range() {
    let bytes = encode_images(2, 1, 3, &[0, 51, 255, 0, 0, 0]);
    let labels = encode_labels(&[1, 0]);
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["train", "t10k"] {
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            &bytes,
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            &labels,
        )
        .unwrap();
    }
    let m = Mnist::load(dir.path()).unwrap();
    assert_eq!(m.train.images.to_vec(), vec![0.0, 0.2, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(m.train.labels, vec![1, 0]);
    assert_eq!(m.classes, 2);
}
