//! Config parsing: defaults, the shipped configs, the TOML round trip. Every rejected config
//! and its message is a case of the bad-input corpus (tests/bad_inputs/cases.toml).

use weightscope::core::config::BackendName;
use weightscope::core::config::{Activation, Config, OptimizerKind};

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
fn resolved_config_round_trips_through_toml() {
    let c = Config::parse("seed = 3\n[model]\nhidden = [16, 8]\nactivation = 'tanh'").unwrap();
    assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
}
