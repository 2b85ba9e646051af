//! `GET /v1/models` and `GET /v1/models/{id}` in the OpenAI list shape, from the config.

use super::snapshot::Snapshot;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::routing::catalog::ModelRoute;
use bytes::Bytes;
use serde_json::{json, Value};

fn entry(route: &ModelRoute) -> Value {
    json!({ "id": route.id, "object": "model", "created": 0, "owned_by": "switchyard" })
}

/// The whole list.
pub fn list(snapshot: &Snapshot) -> Bytes {
    let data: Vec<Value> = snapshot.catalog.models().iter().map(|m| entry(m)).collect();
    Bytes::from(json!({ "object": "list", "data": data }).to_string())
}

/// One model by id or alias (the answer names its public id).
pub fn one(snapshot: &Snapshot, name: &str) -> Result<Bytes, ApiError> {
    snapshot
        .catalog
        .resolve(name)
        .map(|m| Bytes::from(entry(m).to_string()))
        .ok_or_else(|| ApiError::new(ErrorClass::NotFound, format!("model `{name}` does not exist")).with_code("model_not_found"))
}
