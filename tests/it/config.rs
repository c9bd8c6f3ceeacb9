//! Config parsing and validation.

use weightscope::core::config::BackendName;
use weightscope::core::config::{Activation, Config, OptimizerKind};

fn err(text: &str) -> String {
    format!("{:#}", Config::parse(text).unwrap_err())
}

#[test]
fn defaults_are_the_articles_setup() {
    let c = Config::parse("").unwrap();
    assert_eq!(c.seed, 12345);
    assert_eq!(c.backend, BackendName::Flex);
    assert_eq!(c.data.dir.to_str(), Some("data/mnist"));
    assert_eq!(c.data.validation_split, 0.02);
    assert!(c.model.hidden.is_empty());
    assert_eq!(c.model.activation, Activation::Relu);
    let t = &c.training;
    assert_eq!((t.epochs, t.batch_size, t.shuffle), (20, 500, true));
    assert_eq!(t.optimizer, OptimizerKind::Adam);
    assert_eq!((t.learning_rate, t.beta1, t.beta2), (0.001, 0.9, 0.999));
    assert_eq!(t.epsilon, 1e-7);
    assert_eq!(c.analysis.probe_index, 1);
}

#[test]
fn shipped_configs_describe_the_article() {
    let mlp = Config::load("configs/mlp.toml".as_ref()).unwrap();
    let slp = Config::load("configs/slp.toml".as_ref()).unwrap();
    assert_eq!(mlp.name, "mlp");
    assert_eq!(mlp.model.hidden, vec![128]);
    assert!(slp.model.hidden.is_empty());
    assert_eq!(slp.name, "slp");
    for c in [&mlp, &slp] {
        assert_eq!(c.training, Config::default().training);
        assert_eq!(c.seed, 12345);
    }
}

#[test]
fn unknown_keys_are_rejected_at_every_level() {
    for (text, key) in [
        ("sed = 1", "sed"),
        ("[data]\ndirectory = 'x'", "directory"),
        ("[model]\nhiden = [1]", "hiden"),
        ("[training]\nlr = 0.1", "lr"),
        ("[analysis]\nprobe = 2", "probe"),
        ("[extra]\na = 1", "extra"),
    ] {
        let e = err(text);
        assert!(e.contains(&format!("unknown field `{key}`")), "{text}: {e}");
        assert!(e.contains("expected"), "{text}: {e}");
    }
}

#[test]
fn wrong_types_are_rejected_with_the_line() {
    let e = err("seed = 1\n[training]\nepochs = 'ten'");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
    let e = err("backend = 'cuda'");
    assert!(e.contains("unknown variant `cuda`"), "{e}");
    let e = err("[training]\noptimizer = 'rmsprop'");
    assert!(e.contains("unknown variant `rmsprop`"), "{e}");
    let e = err("[model]\nhidden = 128");
    assert!(e.contains("invalid type"), "{e}");
    let e = err("seed = -1");
    assert!(e.contains("seed") || e.contains("invalid value"), "{e}");
}

#[test]
fn out_of_range_values_are_rejected() {
    for (text, needle) in [
        (
            "[training]\nbatch_size = 0",
            "training.batch_size must be at least 1",
        ),
        (
            "[training]\nepochs = 0",
            "training.epochs must be at least 1",
        ),
        (
            "[training]\nlearning_rate = -0.1",
            "training.learning_rate must be a positive",
        ),
        (
            "[training]\nlearning_rate = 0.0",
            "training.learning_rate must be a positive",
        ),
        (
            "[training]\nbeta1 = 1.0",
            "training.beta1 must be in [0, 1)",
        ),
        (
            "[training]\nepsilon = 0.0",
            "training.epsilon must be a positive",
        ),
        (
            "[data]\nvalidation_split = 1.0",
            "data.validation_split must be in [0, 1)",
        ),
        (
            "[data]\nvalidation_split = -0.1",
            "data.validation_split must be in [0, 1)",
        ),
        (
            "[model]\nhidden = [128, 0]",
            "model.hidden[1] must be at least 1",
        ),
    ] {
        let e = err(text);
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn resolved_config_round_trips_through_toml() {
    let c = Config::parse("seed = 3\n[model]\nhidden = [16, 8]\nactivation = 'tanh'").unwrap();
    assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
}
