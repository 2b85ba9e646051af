//! The model lists, each in its client's own shape (OpenAI, Anthropic, Gemini), from the config.

use super::snapshot::Snapshot;
use crate::config::{Model, ModelKind};
use crate::protocol::error::ApiError;
use crate::routing::catalog::ModelRoute;
use bytes::Bytes;
use pingora::http::RequestHeader;
use serde_json::{json, Value};

/// Which SDK is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// `{"object":"list","data":[{"id","object":"model",…}]}`.
    OpenAi,
    /// `{"data":[{"type":"model","id","display_name","created_at"}],"has_more","first_id","last_id"}`.
    Anthropic,
    /// `{"models":[{"name":"models/…","displayName",…}]}`.
    Gemini,
}

impl Listing {
    /// Anthropic SDKs always send `anthropic-version`; Gemini clients use `/v1beta/models`
    /// (or a Google key header); everything else is OpenAI.
    pub fn for_request(req: &RequestHeader) -> Listing {
        if req.headers.contains_key("anthropic-version") {
            Listing::Anthropic
        } else if req.uri.path().starts_with("/v1beta/") || req.headers.contains_key("x-goog-api-key") {
            Listing::Gemini
        } else {
            Listing::OpenAi
        }
    }
}

/// What every listing carries besides its own shape: capabilities, endpoints, pricing.
fn details(model: Option<&Model>, id: &str) -> (Value, Vec<String>, Value) {
    let Some(model) = model else { return (json!({}), Vec::new(), Value::Null) };
    let caps = &model.capabilities;
    let capabilities = json!({ "vision": caps.vision, "function_call": caps.function_call, "reasoning": caps.reasoning });
    let endpoints = match model.kind {
        ModelKind::Chat => vec![
            "/v1/chat/completions".to_owned(),
            "/v1/responses".to_owned(),
            "/v1/messages".to_owned(),
            format!("/v1beta/models/{id}:generateContent"),
            format!("/v1beta/models/{id}:streamGenerateContent"),
        ],
        ModelKind::Embedding => vec!["/v1/embeddings".to_owned()],
        ModelKind::Image => vec!["/v1/images/generations".to_owned()],
    };
    let pricing = match &model.price {
        Some(p) => json!({
            "currency": "USD",
            "unit": "1M tokens",
            "input": p.input.to_string(),
            "output": p.output.to_string(),
            "cache_read": p.cache_read.map(|v| v.to_string()),
            "cache_write": p.cache_write.map(|v| v.to_string()),
        }),
        None => Value::Null,
    };
    (capabilities, endpoints, pricing)
}

fn entry(route: &ModelRoute, model: Option<&Model>, listing: Listing) -> Value {
    let (capabilities, endpoints, pricing) = details(model, &route.id);
    let mut v = match listing {
        Listing::OpenAi => json!({ "id": route.id, "object": "model", "created": 0, "owned_by": "switchyard" }),
        Listing::Anthropic => json!({ "type": "model", "id": route.id, "display_name": route.id, "created_at": "1970-01-01T00:00:00Z" }),
        Listing::Gemini => {
            let methods: &[&str] = match model.map(|m| m.kind) {
                Some(ModelKind::Embedding) => &["embedContent", "batchEmbedContents"],
                Some(ModelKind::Image) => &[],
                _ => &["generateContent", "streamGenerateContent", "countTokens"],
            };
            json!({ "name": format!("models/{}", route.id), "displayName": route.id, "supportedGenerationMethods": methods })
        }
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("capabilities".into(), capabilities);
        obj.insert("endpoints".into(), json!(endpoints));
        obj.insert("pricing".into(), pricing);
    }
    v
}

fn config_model<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a Model> {
    snapshot.config.models.iter().find(|m| m.id == id)
}

/// The whole list.
pub fn list(snapshot: &Snapshot, listing: Listing) -> Bytes {
    let data: Vec<Value> = snapshot.catalog.models().iter().map(|m| entry(m, config_model(snapshot, &m.id), listing)).collect();
    let body = match listing {
        Listing::OpenAi => json!({ "object": "list", "data": data }),
        Listing::Anthropic => {
            let first = data.first().map(|d| d["id"].clone()).unwrap_or(Value::Null);
            let last = data.last().map(|d| d["id"].clone()).unwrap_or(Value::Null);
            json!({ "data": data, "has_more": false, "first_id": first, "last_id": last })
        }
        Listing::Gemini => json!({ "models": data }),
    };
    Bytes::from(body.to_string())
}

/// One model by id or alias (the answer names its public id).
pub fn one(snapshot: &Snapshot, name: &str, listing: Listing) -> Result<Bytes, ApiError> {
    let name = name.strip_prefix("models/").unwrap_or(name);
    let route = snapshot.catalog.resolve_or_404(name)?;
    Ok(Bytes::from(entry(route, config_model(snapshot, &route.id), listing).to_string()))
}
