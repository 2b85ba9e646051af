//! The model lists: what the config says about each model, rendered by the asking client's
//! dialect in its own shape.

use super::snapshot::Snapshot;
use crate::config::Model;
use crate::protocol::dialect::{self, Dialect};
use crate::protocol::listing::{ModelInfo, PriceInfo};
use bytes::Bytes;

fn info(model: &Model) -> ModelInfo<'_> {
    let caps = &model.capabilities;
    ModelInfo {
        id: &model.id,
        kind: model.kind,
        vision: caps.vision,
        function_call: caps.function_call,
        reasoning: caps.reasoning,
        price: model.price.as_ref().map(|p| PriceInfo {
            input: p.input.to_string(),
            output: p.output.to_string(),
            cache_read: p.cache_read.map(|v| v.to_string()),
            cache_write: p.cache_write.map(|v| v.to_string()),
        }),
        endpoints: dialect::advertised_paths(&model.id, model.kind),
    }
}

/// The whole list, in config order.
pub fn list(snapshot: &Snapshot, shape: &dyn Dialect) -> Bytes {
    let models: Vec<ModelInfo<'_>> = snapshot.config.models.iter().map(info).collect();
    Bytes::from(shape.model_list(&models))
}

/// One model by public id or alias (the answer names its public id); `None` when unknown.
pub fn one(snapshot: &Snapshot, name: &str, shape: &dyn Dialect) -> Option<Bytes> {
    let route = snapshot.catalog.resolve(name)?;
    let model = snapshot.config.models.iter().find(|m| m.id == route.id)?;
    Some(Bytes::from(shape.model_entry(&info(model))))
}
