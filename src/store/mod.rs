//! The store layer: run folders and the files in them. Every file is written under a temporary
//! name and renamed into place, so an interrupted run never leaves a half-written file.

pub mod atomic;
pub mod claim;
pub mod names;
pub mod run_dir;

pub use atomic::write_atomic;
pub use names::*;
pub use run_dir::RunDir;
