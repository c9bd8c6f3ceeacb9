//! The analysis layer: the measurements of `docs/method.md`, computed from weights copied to
//! the host. Every function here is pure: plain arrays in, numbers out.

pub mod alongside;
pub mod blend;
mod class_means;
pub mod collapse;
mod context;
pub mod distributed;
mod every_layer;
pub mod explorer;
pub mod forward;
mod layer_view;
pub mod linalg;
pub mod matching;
pub mod nearest;
pub mod pass;
pub mod pixel_templates;
pub mod probe;
pub mod results;
pub mod span;
pub mod summary;
pub mod templates;
pub mod verdict;
