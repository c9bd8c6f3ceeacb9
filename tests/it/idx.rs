//! The IDX reader on good and broken files.

use crate::common::{Files, write_gz};
use crate::common::{encode_images, encode_labels};
use weightscope::core::data::{Mnist, parse_images, parse_labels};

fn load_err(files: &Files, gz: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    files.write(dir.path(), gz);
    format!("{:#}", Mnist::load(dir.path()).unwrap_err())
}

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
    let bytes = encode_images(1, 1, 3, &[0, 51, 255]);
    let labels = encode_labels(&[4]);
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
    assert_eq!(m.train.images, vec![0.0, 0.2, 1.0]);
    assert_eq!(m.train.labels, vec![4]);
}

#[test]
fn wrong_magic_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.train_images[3] = 0x01;
    let err = load_err(&files, false);
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(err.contains("wrong magic number 0x00000801"), "{err}");
}

#[test]
fn labels_file_with_image_magic_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.test_labels[3] = 0x03;
    let err = load_err(&files, true);
    assert!(err.contains("t10k-labels-idx1-ubyte.gz"), "{err}");
    assert!(err.contains("wrong magic number"), "{err}");
}

#[test]
fn truncation_in_header_and_body_is_reported() {
    let full = Files::synthetic(10, 10).train_images;
    let err = format!("{:#}", parse_images(&full[..10]).unwrap_err());
    assert!(err.contains("truncated in its header"), "{err}");
    let err = format!("{:#}", parse_images(&full[..2]).unwrap_err());
    assert!(err.contains("truncated"), "{err}");
    let err = format!("{:#}", parse_images(&full[..full.len() - 1]).unwrap_err());
    assert!(err.contains("the file is truncated"), "{err}");
    let mut longer = full.clone();
    longer.push(0);
    let err = format!("{:#}", parse_images(&longer).unwrap_err());
    assert!(err.contains("longer than announced"), "{err}");
    let labels = encode_labels(&[1, 2, 3]);
    let err = format!("{:#}", parse_labels(&labels[..9]).unwrap_err());
    assert!(
        err.contains("announces 3 labels but the body has 1"),
        "{err}"
    );
    let err = format!("{:#}", parse_labels(&labels[..6]).unwrap_err());
    assert!(err.contains("truncated in its header"), "{err}");
}

#[test]
fn empty_file_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.train_labels.clear();
    let err = load_err(&files, false);
    assert!(err.contains("train-labels-idx1-ubyte"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn count_mismatch_between_images_and_labels_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.train_labels = encode_labels(&[1; 9]);
    let err = load_err(&files, false);
    assert!(err.contains("holds 10 images but"), "{err}");
    assert!(err.contains("holds 9 labels"), "{err}");
}

#[test]
fn label_out_of_range_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.test_labels = encode_labels(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 10]);
    let err = load_err(&files, false);
    assert!(err.contains("label 10 at index 9 is out of range"), "{err}");
}

#[test]
fn image_size_mismatch_between_train_and_test_is_reported() {
    let mut files = Files::synthetic(10, 10);
    files.test_images = encode_images(10, 14, 56, &vec![0; 10 * 28 * 28]);
    let err = load_err(&files, false);
    assert!(
        err.contains("28x28 in the training file but 14x56"),
        "{err}"
    );
}

#[test]
fn corrupt_gzip_is_reported() {
    let files = Files::synthetic(10, 10);
    let dir = tempfile::tempdir().unwrap();
    files.write(dir.path(), true);
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes.truncate(mid);
    std::fs::write(&path, &bytes).unwrap();
    let err = format!("{:#}", Mnist::load(dir.path()).unwrap_err());
    assert!(err.contains("is not a valid gzip file"), "{err}");
    write_gz(&path, b"not an idx file at all");
    let err = format!("{:#}", Mnist::load(dir.path()).unwrap_err());
    assert!(err.contains("wrong magic number"), "{err}");
}

#[test]
fn missing_file_and_folder_are_reported() {
    let files = Files::synthetic(10, 10);
    let dir = tempfile::tempdir().unwrap();
    files.write(dir.path(), false);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let err = format!("{:#}", Mnist::load(dir.path()).unwrap_err());
    assert!(err.contains("missing t10k-labels-idx1-ubyte"), "{err}");
    let err = format!("{:#}", Mnist::load(&dir.path().join("nope")).unwrap_err());
    assert!(err.contains("does not exist"), "{err}");
}
