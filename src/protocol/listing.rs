//! What the model lists say about a model, independent of any one protocol's shape: its kind,
//! capabilities, prices and the paths it is served on. Each dialect wraps it in its own shape.

use serde_json::{json, Value};

/// The kind of a model, which decides the endpoints it is listed and served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Text generation: chat completions, responses, messages, generateContent.
    #[default]
    Chat,
    /// Embeddings (`/v1/embeddings`).
    Embedding,
    /// Image generation (`/v1/images/generations`).
    Image,
}

impl ModelKind {
    /// The word used in messages and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
            ModelKind::Image => "image",
        }
    }
}

/// Prices as exact decimal strings (USD per 1M tokens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceInfo {
    /// Prompt tokens.
    pub input: String,
    /// Completion tokens.
    pub output: String,
    /// Cached prompt tokens, when priced apart.
    pub cache_read: Option<String>,
    /// Prompt tokens written to the cache, when priced apart.
    pub cache_write: Option<String>,
}

/// One public model as the listings show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo<'a> {
    /// The public id.
    pub id: &'a str,
    /// Its kind.
    pub kind: ModelKind,
    /// Accepts images.
    pub vision: bool,
    /// Calls tools.
    pub function_call: bool,
    /// Thinks before answering.
    pub reasoning: bool,
    /// Prices, when the model is not free.
    pub price: Option<PriceInfo>,
    /// The paths a client can use it on (every protocol's).
    pub endpoints: Vec<String>,
}

impl ModelInfo<'_> {
    /// Adds what every listing carries besides its own shape: capabilities, endpoints, pricing.
    pub fn extend(&self, entry: &mut Value) {
        let pricing = match &self.price {
            Some(p) => json!({
                "currency": "USD",
                "unit": "1M tokens",
                "input": p.input,
                "output": p.output,
                "cache_read": p.cache_read,
                "cache_write": p.cache_write,
            }),
            None => Value::Null,
        };
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(
                "capabilities".into(),
                json!({ "vision": self.vision, "function_call": self.function_call, "reasoning": self.reasoning }),
            );
            obj.insert("endpoints".into(), json!(self.endpoints));
            obj.insert("pricing".into(), pricing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_carries_capabilities_endpoints_and_prices() {
        let info = ModelInfo {
            id: "m",
            kind: ModelKind::Chat,
            vision: true,
            function_call: false,
            reasoning: true,
            price: Some(PriceInfo { input: "0.15".into(), output: "0.6".into(), cache_read: None, cache_write: None }),
            endpoints: vec!["/v1/chat/completions".into()],
        };
        let mut v = json!({"id": "m"});
        info.extend(&mut v);
        assert_eq!(v["capabilities"]["vision"], true);
        assert_eq!(v["endpoints"][0], "/v1/chat/completions");
        assert_eq!(v["pricing"]["input"], "0.15");
        assert_eq!(v["pricing"]["cache_read"], Value::Null);
    }
}
