//! Which models may answer a generation, in which order: the client's model, its fallback
//! list (`models`), `model: "auto"` expanded by the configured policy, and the attempt order
//! over all of their channels.

use super::ctx::RequestCtx;
use super::snapshot::Snapshot;
use super::Gateway;
use crate::config::AUTO_MODEL;
use crate::protocol::dialect::{self, Operation};
use crate::protocol::error::ApiError;
use crate::protocol::ir::Protocol;
use crate::routing::auto::{rank, Candidate};
use crate::routing::catalog::{Channel, ModelRoute};
use crate::routing::plan::Plan;
use bytes::Bytes;
use std::sync::Arc;

/// A generation's fallback list (the client's dialect reads it) and its body without the list;
/// empty when the request names one model.
pub(super) fn split_fallback(op: &Operation, inbound: Protocol, raw: Bytes) -> Result<(Bytes, Vec<String>), ApiError> {
    if !matches!(op, Operation::Generate { .. }) {
        return Ok((raw, Vec::new()));
    }
    Ok(match dialect::of(inbound).fallback(&raw)? {
        Some(fallback) => (fallback.body, fallback.models),
        None => (raw, Vec::new()),
    })
}

/// The names a generation may be answered by, in order: `first` (the body's model) or, when
/// the body has a fallback list, that list; `auto` replaced by its ranked candidates when an
/// `auto:` section is configured (else it stays, and is an unknown model).
pub(super) fn model_names<'a>(gw: &Gateway, snapshot: &'a Snapshot, first: &'a str, fallback: &'a [String]) -> Vec<&'a str> {
    let names: Vec<&str> = match fallback {
        [] => vec![first],
        list => list.iter().map(String::as_str).collect(),
    };
    let Some(order) = names.contains(&AUTO_MODEL).then(|| auto_order(gw, snapshot)).flatten() else { return names };
    names.into_iter().flat_map(|n| if n == AUTO_MODEL { order.clone() } else { vec![n] }).collect()
}

/// The candidates of `model: "auto"`, best first by the configured policy (the first is the
/// model chosen, the rest its fallbacks); `None` when `auto` is not configured.
fn auto_order<'a>(gw: &Gateway, snapshot: &'a Snapshot) -> Option<Vec<&'a str>> {
    let auto = snapshot.config.auto.as_ref()?;
    let candidates: Vec<Candidate> = auto
        .candidates
        .iter()
        .map(|name| {
            let model = snapshot.config.model_by_name(name);
            Candidate {
                cost: model
                    .and_then(|m| m.price.as_ref())
                    .map_or(0, |p| p.input.micro_usd().saturating_add(p.output.micro_usd())),
                ttft_ms: model.and_then(|m| gw.latency.ttft_ms(&m.id)),
                quality: auto.quality.get(name).copied().unwrap_or(0.0),
            }
        })
        .collect();
    let order = rank(auto.policy, &auto.weights, &candidates);
    Some(order.into_iter().filter_map(|i| auto.candidates.get(i).map(String::as_str)).collect())
}

/// The attempt order over several models: each model's own plan (`plan_one`: priority tiers,
/// weights, health), one model after the other, at most `budget` attempts; a channel reached
/// twice (a model named twice) is tried once. A model whose channels are all out of rotation
/// is passed over while a later model has a usable one; when none has, each model's
/// longest-failed channel is tried.
pub(super) fn plan_models<'a>(
    routes: &'a [Arc<ModelRoute>],
    plan_one: &dyn Fn(&'a [Channel]) -> Plan<'a>,
    budget: usize,
) -> Plan<'a> {
    let plans: Vec<Plan<'a>> = routes.iter().map(|r| plan_one(&r.channels)).collect();
    let fallback = plans.iter().all(|p| p.fallback);
    let mut order: Vec<&Channel> = Vec::new();
    for plan in plans.into_iter().filter(|p| fallback || !p.fallback) {
        for channel in plan.order {
            if !order.iter().any(|c| c.public_model == channel.public_model && c.label == channel.label) {
                order.push(channel);
            }
        }
    }
    order.truncate(budget.max(1));
    Plan { order, fallback }
}

/// The public id of the model whose channel answered (the attempt loop records it), else the
/// first model's.
pub(super) fn answering_model(ctx: &RequestCtx, routes: &[Arc<ModelRoute>]) -> String {
    ctx.model.clone().or_else(|| routes.first().map(|r| r.id.clone())).unwrap_or_default()
}
