//! Model resolution, the channel plan and passive channel health: which (provider, upstream
//! model) pairs may serve a request, in which order, and which are out of rotation right now.

pub mod auto;
pub mod catalog;
pub mod health;
pub mod latency;
pub mod plan;
