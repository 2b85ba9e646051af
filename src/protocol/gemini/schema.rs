//! Gemini's OpenAPI-subset `Schema` (used by `parameters` and `responseSchema`) → JSON Schema.
//!
//! The hub keeps JSON Schema, what OpenAI and Anthropic take. Gemini's `Schema` differs in two
//! ways that matter: type names may be upper case (`OBJECT`) and nullability is a `nullable`
//! flag. Everything else (properties, items, enum, required, anyOf, format, bounds) is already
//! JSON Schema. Switchyard sends `parametersJsonSchema`/`responseJsonSchema` upstream, so the
//! reverse direction (and stripping keywords `parameters` rejects) is not needed.

use serde_json::{Map, Value};

/// Converts a Gemini `Schema` value to JSON Schema; non-objects are returned unchanged.
pub fn openapi_to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(o) => Value::Object(convert_object(o)),
        other => other.clone(),
    }
}

fn convert_object(o: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(o.len());
    let nullable = o.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    for (k, v) in o {
        let v = match k.as_str() {
            "nullable" => continue,
            "type" => match v.as_str() {
                Some(t) if nullable => Value::Array(vec![Value::String(t.to_ascii_lowercase()), Value::String("null".into())]),
                Some(t) => Value::String(t.to_ascii_lowercase()),
                None => v.clone(),
            },
            "properties" | "$defs" | "definitions" => match v {
                Value::Object(props) => {
                    Value::Object(props.iter().map(|(name, s)| (name.clone(), openapi_to_json_schema(s))).collect())
                }
                other => other.clone(),
            },
            "items" | "not" | "additionalProperties" => openapi_to_json_schema(v),
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => match v {
                Value::Array(items) => Value::Array(items.iter().map(openapi_to_json_schema).collect()),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if nullable && !o.contains_key("type") {
        // `nullable` without a type: a union with null is the closest JSON Schema can say.
        let inner = Value::Object(out);
        let mut wrap = Map::new();
        wrap.insert("anyOf".into(), Value::Array(vec![inner, serde_json::json!({"type":"null"})]));
        return wrap;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upper_case_types_and_nullable() {
        let s = json!({
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING", "description": "City"},
                "days": {"type": "INTEGER", "nullable": true},
                "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["a", "b"]}},
                "any": {"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]}
            },
            "required": ["city"],
            "propertyOrdering": ["city", "days"]
        });
        assert_eq!(
            openapi_to_json_schema(&s),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "days": {"type": ["integer", "null"]},
                    "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                    "any": {"anyOf": [{"type": "number"}, {"type": "boolean"}]}
                },
                "required": ["city"],
                "propertyOrdering": ["city", "days"]
            })
        );
    }

    #[test]
    fn json_schema_passes_unchanged() {
        let s = json!({"type":"object","properties":{"q":{"type":"string"}},"additionalProperties":false});
        assert_eq!(openapi_to_json_schema(&s), s);
        assert_eq!(openapi_to_json_schema(&json!(true)), json!(true));
    }

    #[test]
    fn nullable_without_type() {
        assert_eq!(
            openapi_to_json_schema(&json!({"nullable": true, "enum": ["x"]})),
            json!({"anyOf": [{"enum": ["x"]}, {"type": "null"}]})
        );
    }
}
