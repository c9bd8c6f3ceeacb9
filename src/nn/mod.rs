//! Burn: the dense network as a module, the optimisers and the compute backends. The only
//! layer besides `train` that touches tensors.

pub mod backend;
pub mod dense;
pub mod model;
pub mod optim;
