//! weightscope: train the article's dense networks with Burn and open up their weights.
//!
//! The modules are layers; each uses only the layers below it, and no files import each other
//! in a circle, inside a folder or between folders (`tests/it/architecture.rs` checks this, and
//! `.ci/run` runs that check first):
//!
//! | layer | modules | what it holds |
//! | --- | --- | --- |
//! | 5 | `commands` | the command line: flags (`cli.rs`), one call into `app` per subcommand, the progress display |
//! | 4 | `app` | the application: train, analyse, import, explore, export, compare, sweep; combines the layers below |
//! | 3 | `render` | plot primitives, the figures, the report pages and the explorer page (templates) |
//! | 2 | `train`, `interop`, `tensorflow` | the training loop, weights files of other tools, the comparison with TensorFlow |
//! | 1 | `nn`, `analysis`, `store` | the Burn module and backends, the host-side measurements, run folders |
//! | 0 | `core` | config, data, a drawn digit, weights on the host, metrics, the stop token |

pub mod analysis;
pub mod app;
pub mod commands;
pub mod core;
pub mod interop;
pub mod nn;
pub mod render;
pub mod store;
pub mod tensorflow;
pub mod train;
