//! Data sets beyond MNIST's folder of IDX files: a NumPy `.npz` in Keras's `load_data` layout,
//! with images of another size and named classes, trained on and analysed end to end.

use crate::common::{fixture, read_json as json};

use crate::common::{Workspace, s, succeeded, weightscope};

#[test]
fn an_npz_data_set_of_eight_by_eight_images_trains_and_analyses_end_to_end() {
    let ws = Workspace::new(10, 10);
    let config = ws
        .config("bands", &[6])
        .epochs(8)
        .with(|c| {
            c.training.learning_rate = 0.01;
            c.training.batch_size = 16;
            c.data.validation_split = 0.1;
            c.analysis.probe_index = 0;
        })
        .write();
    let data = fixture("bands_8x8.npz");
    let out = ws.path("runs/bands");
    let run = weightscope(&["--config", s(&config), "--data", s(&data), "--out", s(&out)]);
    succeeded(&run);
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["layers"], serde_json::json!([64, 6, 3]));
    assert!(
        metrics["test"]["accuracy"].as_f64().unwrap() > 0.9,
        "{}",
        metrics["test"]
    );
    let analysis = json(&out.join("analysis.json"));
    assert_eq!(
        analysis["class_template"]["trained"]["matrix"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(analysis["pixel_templates"].as_array().unwrap().len(), 2);
    for figure in [
        "weights",
        "effective_templates",
        "pixel_templates_layer1",
        "winners",
    ] {
        assert!(
            out.join(format!("figures/{figure}.png")).is_file(),
            "{figure}"
        );
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("falling, rising, level (from "),
        "the names the .npz records"
    );
    assert!(out.join("explore.html").is_file());
    // The same data serve an import: the exported weights score as the run did.
    let again = ws.path("again");
    let analyzed = weightscope(&[
        "analyze",
        "--weights",
        s(&out.join("weights.safetensors")),
        "--data",
        s(&data),
        "--out",
        s(&again),
    ]);
    succeeded(&analyzed);
    let record = json(&again.join("import.json"));
    let (theirs, ours) = (
        record["test"]["accuracy"].as_f64().unwrap(),
        metrics["test"]["accuracy"].as_f64().unwrap(),
    );
    assert!((theirs - ours).abs() < 1e-6, "{theirs} against {ours}");
}

#[test]
fn three_hundred_classes_beyond_a_bytes_labels_are_trained_and_analysed() {
    let ws = Workspace::new(10, 10);
    let data = fixture("many_classes.npz");
    let loaded = weightscope::core::data::Mnist::load(&data).unwrap();
    assert_eq!(loaded.classes, 300);
    assert_eq!(loaded.train.labels.iter().max(), Some(&299));
    let config = ws
        .config("many", &[])
        .epochs(1)
        .with(|c| {
            c.data.validation_split = 0.0;
            c.analysis.probe_index = 0;
        })
        .write();
    let out = ws.path("runs/many");
    let run = weightscope(&["--config", s(&config), "--data", s(&data), "--out", s(&out)]);
    succeeded(&run);
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["layers"], serde_json::json!([16, 300]));
    let analysis = json(&out.join("analysis.json"));
    let matrix = analysis["class_template"]["trained"]["matrix"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(matrix.len(), 300);
    assert!(matrix.iter().all(|r| r.as_array().unwrap().len() == 300));
    assert!(out.join("report.html").is_file() && out.join("explore.html").is_file());
}
