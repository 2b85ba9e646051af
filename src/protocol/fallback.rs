//! Fallback lists in a generation body, the OpenRouter form: `"models": ["a", "b", …]`, with or
//! without `"route": "fallback"`. The client's `model` (when sent) is tried first, then each
//! listed model in order; without `model` the first listed one takes its place. Both fields
//! are the gateway's own, so they are removed before the body goes upstream.

use super::error::ApiError;
use super::json::RawObject;
use bytes::Bytes;

/// The field listing the models to try in order.
const MODELS: &str = "models";
/// The routing mode field; only `fallback` exists.
const ROUTE: &str = "route";
/// The field naming the model.
const MODEL: &str = "model";
/// The most names a list may hold: each adds a whole plan of attempts.
pub const MAX_MODELS: usize = 8;

/// A body's fallback list and the body without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Every model to try, in order, the client's `model` first; no name twice.
    pub models: Vec<String>,
    /// The body without `models` and `route`, with `model` set to the first name.
    pub body: Bytes,
}

/// Reads and removes the fallback fields of a JSON body; `None` when it has neither (the body
/// is then used as it is). A malformed list is a 400 naming the field.
pub fn split(body: &[u8]) -> Result<Option<Fallback>, ApiError> {
    let mut obj = RawObject::parse_body(body)?;
    if obj.get(MODELS).is_none() && obj.get(ROUTE).is_none() {
        return Ok(None);
    }
    match obj.get_as::<Option<String>>(ROUTE) {
        None | Some(Ok(None)) => {}
        Some(Ok(Some(route))) if route == "fallback" => {}
        Some(_) => return Err(ApiError::invalid_field(ROUTE, "`route` must be \"fallback\" (the only routing mode)")),
    }
    let listed = match obj.get_as::<Option<Vec<String>>>(MODELS) {
        None | Some(Ok(None)) => Vec::new(),
        Some(Ok(Some(list))) => list,
        Some(Err(_)) => return Err(ApiError::invalid_field(MODELS, "`models` must be an array of model ids")),
    };
    if listed.len() > MAX_MODELS {
        return Err(ApiError::invalid_field(MODELS, format!("`models` may name at most {MAX_MODELS} models")));
    }
    if let Some(i) = listed.iter().position(|m| m.trim().is_empty()) {
        return Err(ApiError::invalid_field(format!("{MODELS}[{i}]"), "a model id must not be empty"));
    }
    let first = match obj.get(MODEL) {
        None => None,
        Some(_) => Some(obj.model()?),
    };
    let mut models: Vec<String> = Vec::with_capacity(listed.len() + 1);
    for name in first.into_iter().chain(listed) {
        if !models.contains(&name) {
            models.push(name);
        }
    }
    let Some(primary) = models.first() else { return Err(super::json::missing_model()) };
    obj.remove(MODELS);
    obj.remove(ROUTE);
    let internal = |_| ApiError::new(super::error::ErrorClass::Server, "the request could not be rebuilt");
    obj.set(MODEL, primary).map_err(internal)?;
    Ok(Some(Fallback { models, body: Bytes::from(obj.to_vec()) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn split_json(v: Value) -> Result<Option<(Vec<String>, Value)>, ApiError> {
        Ok(split(v.to_string().as_bytes())?.map(|f| (f.models, serde_json::from_slice(&f.body).unwrap())))
    }

    #[test]
    fn a_body_without_the_fields_is_left_alone() {
        assert_eq!(split_json(json!({"model": "a", "messages": []})).unwrap(), None);
    }

    #[test]
    fn model_first_then_the_list_without_repeats_and_the_fields_removed() {
        let (models, body) = split_json(json!({"model": "a", "models": ["b", "a", "c", "b"], "route": "fallback", "x": 1}))
            .unwrap()
            .unwrap();
        assert_eq!(models, ["a", "b", "c"]);
        assert_eq!(body, json!({"model": "a", "x": 1}));
    }

    #[test]
    fn without_model_the_first_listed_one_is_the_model() {
        let (models, body) = split_json(json!({"models": ["b", "c"], "stream": true})).unwrap().unwrap();
        assert_eq!(models, ["b", "c"]);
        assert_eq!(body, json!({"stream": true, "model": "b"}));
    }

    #[test]
    fn malformed_lists_name_the_field() {
        let param = |v: Value| split_json(v).unwrap_err().param;
        assert_eq!(param(json!({"model": "a", "models": "b"})).as_deref(), Some("models"));
        assert_eq!(param(json!({"model": "a", "models": ["b", ""]})).as_deref(), Some("models[1]"));
        assert_eq!(param(json!({"model": "a", "models": ["b"], "route": "cheapest"})).as_deref(), Some("route"));
        assert_eq!(param(json!({"model": "a", "models": vec!["m"; 9]})).as_deref(), Some("models"));
        assert_eq!(param(json!({"models": []})).as_deref(), Some("model"));
        assert_eq!(param(json!({"model": 3, "models": ["b"]})).as_deref(), Some("model"));
    }

    #[test]
    fn route_alone_is_removed() {
        let (models, body) = split_json(json!({"model": "a", "route": "fallback"})).unwrap().unwrap();
        assert_eq!((models, body), (vec!["a".to_owned()], json!({"model": "a"})));
    }
}
