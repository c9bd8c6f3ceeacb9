//! The bottom layer: plain data every other layer shares. The run configuration, the MNIST
//! files, a network's weights on the host, the metrics of a run and the stop token. Nothing
//! here knows about Burn, files of a run folder or drawing.

pub mod classes;
pub mod config;
pub mod data;
pub mod drawing;
pub mod hold;
pub mod metrics;
pub mod model_kind;
pub mod npz_data;
pub mod pixels;
pub mod provenance;
pub mod scaling;
pub mod stop;
pub mod weights;
