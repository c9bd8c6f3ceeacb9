//! The render layer: plot primitives, the figures drawn from an analysis, and the report
//! pages, which come from templates and asset files.

pub mod explore;
pub mod figures;
pub mod match_figures;
pub mod plot;
pub mod report;
