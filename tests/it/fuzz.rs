//! Randomised fuzzing of the parsers that read user files: the IDX reader, the config loader
//! and the weights readers (safetensors, `.npz` and the `.npy` arrays inside). Every input
//! must give Ok or an error, never a panic. The mutations are structured
//! (header fields, truncations, bit flips, spliced TOML keys and values) so most inputs get
//! past the first check. A plain seeded loop rather than proptest: adding proptest would change
//! shared dependencies' features and make the tests build Burn a second time.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::common::{encode_images, encode_labels};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weightscope::core::config::Config;
use weightscope::core::data::{Mnist, parse_images, parse_labels};

fn mutate(rng: &mut ChaCha8Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..rng.random_range(1..4) {
        match rng.random_range(0..6) {
            0 => b.truncate(rng.random_range(0..=b.len())),
            1 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            2 if b.len() >= 16 => {
                // A random header field: count, rows or cols.
                let field = 4 * rng.random_range(1..4);
                let v: u32 = match rng.random_range(0..3) {
                    0 => rng.random_range(0..64),
                    1 => u32::MAX - rng.random_range(0..4),
                    _ => rng.random(),
                };
                b[field..field + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 => b.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>())),
            4 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
            _ => b.reverse(),
        }
    }
    b
}

#[test]
fn idx_parsers_never_panic() {
    let (pixels, labels) = crate::common::synthetic(6, 3);
    let images = encode_images(6, 28, 28, &pixels);
    let small = encode_images(2, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let label_file = encode_labels(&labels);
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..20_000 {
        for base in [&images, &small, &label_file] {
            let input = mutate(&mut rng, base);
            let result = catch_unwind(AssertUnwindSafe(|| {
                [parse_images(&input).is_ok(), parse_labels(&input).is_ok()]
            }));
            let outcomes = result.unwrap_or_else(|_| panic!("panic on input {input:?}"));
            for ok in outcomes {
                if ok {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    // The mutations reach both sides of the parsers' checks, not only the first rejection.
    assert!(
        accepted > 1_000 && refused > 1_000,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn gzipped_files_in_a_folder_never_panic() {
    let files = crate::common::Files::synthetic(10, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    for round in 0..300 {
        files.write(dir.path(), true);
        let name = [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        ][round % 3];
        let path = dir.path().join(name);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, mutate(&mut rng, &bytes)).unwrap();
        let result = catch_unwind(|| Mnist::load(dir.path()).map(|_| ()));
        assert!(result.is_ok(), "panic on round {round}");
    }
}

#[test]
fn config_loader_never_panics() {
    let keys = [
        "name",
        "seed",
        "backend",
        "dir",
        "validation_split",
        "train_limit",
        "hidden",
        "activation",
        "epochs",
        "batch_size",
        "shuffle",
        "optimizer",
        "learning_rate",
        "beta1",
        "beta2",
        "epsilon",
        "probe_index",
        "keras_weights",
        "bogus",
    ];
    let tables = [
        "",
        "[data]",
        "[model]",
        "[training]",
        "[analysis]",
        "[init]",
        "[x]",
        "[[data]]",
    ];
    let values = [
        "0",
        "1",
        "-1",
        "1e308",
        "-1e308",
        "nan",
        "inf",
        "0.5",
        "1.0",
        "18446744073709551615",
        "18446744073709551616",
        "\"flex\"",
        "\"wgpu\"",
        "\"sgd\"",
        "\"keras-adam\"",
        "\"relu\"",
        "\"\"",
        "[]",
        "[0]",
        "[1, 2, 3]",
        "[-1]",
        "true",
        "{ a = 1 }",
        "\"data/mnist\"",
        "'''x'''",
        "1979-05-27",
        "\"a/b\"",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.random_range(0..6) {
            match rng.random_range(0..8) {
                0 => text.push_str(tables[rng.random_range(0..tables.len())]),
                1 => text.push_str(&String::from_utf8_lossy(
                    &(0..rng.random_range(1..8))
                        .map(|_| rng.random_range(32u8..127))
                        .collect::<Vec<_>>(),
                )),
                _ => text.push_str(&format!(
                    "{} = {}",
                    keys[rng.random_range(0..keys.len())],
                    values[rng.random_range(0..values.len())]
                )),
            }
            text.push('\n');
        }
        let result = catch_unwind(|| Config::parse(&text).is_ok());
        match result {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("panic on config {text:?}"),
        }
    }
    assert!(
        accepted > 100,
        "the fuzzer should also reach valid configs ({accepted})"
    );
}

#[test]
fn weights_readers_never_panic() {
    use weightscope::interop::{Format, parse};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bases: Vec<(Vec<u8>, Format)> = [
        ("torch_layout.safetensors", Format::Safetensors),
        ("keras_layout.safetensors", Format::Safetensors),
        ("deep.npz", Format::Npz),
    ]
    .into_iter()
    .map(|(name, format)| (std::fs::read(fixtures.join(name)).unwrap(), format))
    .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..10_000 {
        for (base, format) in &bases {
            let input = mutate(&mut rng, base);
            let result = catch_unwind(AssertUnwindSafe(|| {
                parse(&input, *format, "fuzzed", 784).is_ok()
            }));
            let ok = result.unwrap_or_else(|_| panic!("panic on a mutated {format:?} file"));
            if ok { accepted += 1 } else { refused += 1 }
        }
    }
    // Both outcomes occur: the mutations neither all break the file nor all miss it.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
