//! The model lists: what the config says about each model, rendered by the asking client's
//! dialect in its own shape.

use super::snapshot::Snapshot;
use crate::config::{Model, ModelKind, AUTO_MODEL};
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
    let mut models: Vec<ModelInfo<'_>> = snapshot.config.models.iter().map(info).collect();
    models.extend(auto_info(snapshot));
    Bytes::from(shape.model_list(&models))
}

/// `auto`, when configured: a chat model with the capabilities every candidate has, and no
/// price of its own (each answer costs what the chosen model costs).
fn auto_info(snapshot: &Snapshot) -> Option<ModelInfo<'static>> {
    let auto = snapshot.config.auto.as_ref()?;
    let candidates: Vec<&Model> = auto.candidates.iter().filter_map(|c| snapshot.config.model_by_name(c)).collect();
    let all = |has: fn(&Model) -> bool| !candidates.is_empty() && candidates.iter().all(|m| has(m));
    Some(ModelInfo {
        id: AUTO_MODEL,
        kind: ModelKind::Chat,
        vision: all(|m| m.capabilities.vision),
        function_call: all(|m| m.capabilities.function_call),
        reasoning: all(|m| m.capabilities.reasoning),
        price: None,
        endpoints: dialect::advertised_paths(AUTO_MODEL, ModelKind::Chat),
    })
}

/// One model by public id or alias (the answer names its public id); `None` when unknown.
pub fn one(snapshot: &Snapshot, name: &str, shape: &dyn Dialect) -> Option<Bytes> {
    if name == AUTO_MODEL {
        return auto_info(snapshot).map(|auto| Bytes::from(shape.model_entry(&auto)));
    }
    let route = snapshot.catalog.lookup(name)?;
    let model = snapshot.config.models.iter().find(|m| m.id == route.id)?;
    Some(Bytes::from(shape.model_entry(&info(model))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::Protocol;
    use serde_json::Value;

    fn snapshot() -> Snapshot {
        let yaml = r#"
listen: 127.0.0.1:8080
providers:
  - { name: p, protocol: openai, base_url: "http://127.0.0.1:1/v1", api_key: k }
models:
  - { id: chat-m, aliases: [alias-m], price: { input: 0.15, output: 0.6 }, capabilities: { vision: true }, channels: [ { provider: p, model: up } ] }
  - { id: emb-m, kind: embedding, channels: [ { provider: p, model: up } ] }
"#;
        let config = crate::config::parse(yaml, &|_| None).unwrap();
        Snapshot::build(config, crate::store::Store::memory(), None).unwrap()
    }

    fn json(b: Bytes) -> Value {
        serde_json::from_slice(&b).unwrap()
    }

    #[test]
    fn each_sdk_gets_its_own_shape_in_config_order() {
        let s = snapshot();
        let openai = json(list(&s, dialect::of(Protocol::OpenAiChat)));
        assert_eq!((openai["object"].as_str(), openai["data"][1]["id"].as_str()), (Some("list"), Some("emb-m")));
        let gemini = json(list(&s, dialect::of(Protocol::Gemini)));
        assert_eq!(gemini["models"][0]["name"], "models/chat-m");
        assert_eq!(gemini["models"][1]["supportedGenerationMethods"], serde_json::json!(["embedContent", "batchEmbedContents"]));
        let anthropic = json(list(&s, dialect::of(Protocol::Anthropic)));
        assert_eq!((anthropic["first_id"].as_str(), anthropic["last_id"].as_str()), (Some("chat-m"), Some("emb-m")));
        assert_eq!(openai["data"][0]["pricing"]["output"], "0.6");
        assert_eq!(openai["data"][1]["endpoints"], serde_json::json!(["/v1/embeddings"]));
    }

    #[test]
    fn one_model_by_alias_names_its_public_id_and_unknown_is_none() {
        let s = snapshot();
        let entry = json(one(&s, "alias-m", dialect::of(Protocol::OpenAiChat)).unwrap());
        assert_eq!(entry["id"], "chat-m");
        assert_eq!(entry["capabilities"]["vision"], true);
        assert!(one(&s, "nope", dialect::of(Protocol::OpenAiChat)).is_none());
    }
}
