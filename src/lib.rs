//! weightscope: train the article's dense networks with Burn and open up their weights.

pub mod analysis;
pub mod artifacts;
pub mod backend;
pub mod claim;
pub mod cli;
pub mod compare;
pub mod config;
pub mod data;
pub mod figures;
pub mod interop;
pub mod interrupt;
pub mod keras;
pub mod model;
pub mod optim;
pub mod pipeline;
pub mod plot;
pub mod progress;
pub mod report;
pub mod sweep;
pub mod train;
