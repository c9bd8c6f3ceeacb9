//! weightscope's integration tests, one crate so that Burn and wgpu are linked once.
//! `common` holds what the tests share; the layer check lives in `architecture`.

mod common;

mod analysis_math;
mod analysis_run;
mod architecture;
mod bad_inputs;
mod cli;
mod cluster;
mod config;
mod datasets;
mod docs;
mod explore;
mod fuzz;
mod idx;
mod interop;
mod matching;
mod pixel_templates;
mod recovery;
mod report;
mod span;
mod sweep;
mod tensorflow;
mod training;
mod wgpu;
