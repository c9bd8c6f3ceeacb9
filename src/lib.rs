//! weightscope: train the article's dense networks with Burn and open up their weights.
//!
//! The modules are layers; each uses only the layers below it (`tests/it/architecture.rs` checks
//! this, and `.ci/run` runs that check first):
//!
//! | layer | modules | what it holds |
//! | --- | --- | --- |
//! | 4 | `commands` | one file per subcommand; the only layer that combines the others |
//! | 3 | `render` | plot primitives, the figures, the report pages and the explorer page (templates) |
//! | 2 | `train`, `interop`, `tensorflow` | the training loop, weights files of other tools, the comparison with TensorFlow |
//! | 1 | `nn`, `analysis`, `store` | the Burn module and backends, the host-side measurements, run folders |
//! | 0 | `core` | config, data, a drawn digit, weights on the host, metrics, the stop token |

pub mod analysis;
pub mod commands;
pub mod core;
pub mod interop;
pub mod nn;
pub mod render;
pub mod store;
pub mod tensorflow;
pub mod train;
