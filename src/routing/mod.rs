//! Model resolution and the channel plan: which (provider, upstream model) pairs may serve a
//! request, in which order. Health and cooldowns join here in the routing issue.

pub mod auto;
pub mod catalog;
pub mod latency;
pub mod plan;
