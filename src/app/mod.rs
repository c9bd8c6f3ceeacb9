//! The application layer: what weightscope does, one module per job, each combining the
//! layers below; the commands above only parse flags and call one function here. It reports
//! through [`feedback::Feedback`], so it works the same under a terminal, in a test or inside
//! a sweep.

pub mod analyze;
pub mod article;
pub mod compare;
pub mod explore;
pub mod export;
pub mod feedback;
pub mod finished;
pub mod import;
pub mod matching;
pub mod sweep;
pub mod train;
