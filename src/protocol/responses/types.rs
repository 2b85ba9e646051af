//! Typed OpenAI Responses request (`POST /v1/responses`), for hub conversions.
//!
//! Passthrough to a provider with a native `/responses` never uses these (it keeps the client's
//! bytes); they exist to convert through the hub. Every knob is an `Option` so an explicit
//! `0`/`false` survives (trap #11), and serialisation skips `None` so nothing is invented.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A `POST /v1/responses` body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ResponsesRequest {
    /// Model id.
    pub model: String,
    /// A user prompt string or a list of items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ResponsesInput>,
    /// A system/developer message placed before `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tools the model may call (only `function` tools convert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ResponsesTool>>,
    /// `"none"|"auto"|"required"` or an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Allow several calls per turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Output limit including reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// 0–2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Alternatives per token (with `include: ["message.output_text.logprobs"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Output format (`text.format`) and verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Reasoning effort and summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// String tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// End-user id (deprecated for `safety_identifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// Ask the provider to keep the response (only a Responses upstream can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Continue a stored response: needs provider-side state, refused when converting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Extra outputs to include (e.g. `reasoning.encrypted_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: a plain prompt or a list of items. Read with a visitor rather than `untagged` so an
/// error inside item `i` is reported at `input[i]`, not as "no variant matched".
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ResponsesInput {
    /// One user message.
    Text(String),
    /// Conversation items in order.
    Items(Vec<InputItem>),
}

impl<'de> Deserialize<'de> for ResponsesInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ResponsesInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of input items")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ResponsesInput::Text(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ResponsesInput::Items(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// One input item. A `message` may omit `type` (the SDK's "easy input message"), which a derived
/// tagged enum cannot express, hence the hand-written (de)serialisers.
#[derive(Clone, Debug, PartialEq)]
pub enum InputItem {
    /// A message from user, assistant, system or developer.
    Message(InputMessage),
    /// An earlier tool call by the model.
    FunctionCall(FunctionCallItem),
    /// The result of a tool call.
    FunctionCallOutput(FunctionCallOutputItem),
    /// Earlier reasoning (summary and/or encrypted content).
    Reasoning(ReasoningItem),
    /// Any other item type (`item_reference`, built-in tool calls…), kept for the error message.
    Other {
        /// The item's `type`.
        kind: String,
        /// Its other fields.
        fields: Map<String, Value>,
    },
}

fn parse<T: serde::de::DeserializeOwned>(fields: Map<String, Value>) -> Result<T, serde_json::Error> {
    serde_json::from_value(Value::Object(fields))
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut fields = Map::<String, Value>::deserialize(d)?;
        let kind = match fields.get("type") {
            Some(Value::String(s)) => s.clone(),
            None if fields.contains_key("role") => "message".to_owned(),
            _ => return Err(D::Error::custom("an input item needs a string `type`")),
        };
        let item = match kind.as_str() {
            "message" => parse(fields).map(InputItem::Message),
            "function_call" => parse(fields).map(InputItem::FunctionCall),
            "function_call_output" => parse(fields).map(InputItem::FunctionCallOutput),
            "reasoning" => parse(fields).map(InputItem::Reasoning),
            _ => {
                fields.remove("type");
                return Ok(InputItem::Other { kind, fields });
            }
        };
        item.map_err(|e| D::Error::custom(format!("invalid `{kind}` item: {e}")))
    }
}

impl Serialize for InputItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (kind, body) = match self {
            InputItem::Message(m) => ("message", serde_json::to_value(m)),
            InputItem::FunctionCall(c) => ("function_call", serde_json::to_value(c)),
            InputItem::FunctionCallOutput(o) => ("function_call_output", serde_json::to_value(o)),
            InputItem::Reasoning(r) => ("reasoning", serde_json::to_value(r)),
            InputItem::Other { kind, fields } => (kind.as_str(), Ok(Value::Object(fields.clone()))),
        };
        let body = body.map_err(serde::ser::Error::custom)?;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        if let Value::Object(o) = body {
            for (k, v) in o.iter().filter(|(k, _)| k.as_str() != "type") {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// A `message` item.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InputMessage {
    /// `user`, `assistant`, `system` or `developer`.
    pub role: String,
    /// Text or content parts.
    pub content: MessageContent,
    /// Item id when the client echoes an earlier output item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Message content (also a `function_call_output`'s `output`): a string or parts. Read by hand
/// so a bad part is reported as such rather than as "no variant matched".
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(MessageContent::Text(s)),
            Value::Array(parts) => parts
                .into_iter()
                .enumerate()
                .map(|(j, p)| serde_json::from_value(p).map_err(|e| D::Error::custom(format!("content part {j}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
                .map(MessageContent::Parts),
            _ => Err(D::Error::custom("content must be a string or an array of parts")),
        }
    }
}

/// One content part.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// User/system text.
    InputText {
        /// The text.
        text: String,
    },
    /// Assistant text (history).
    OutputText {
        /// The text.
        text: String,
        /// Citations; required on the wire, never converted.
        #[serde(default)]
        annotations: Vec<Value>,
    },
    /// An assistant refusal (history).
    Refusal {
        /// The refusal text.
        refusal: String,
    },
    /// An image by URL, data URL or file id.
    InputImage {
        /// `https://…` or `data:<mime>;base64,…`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
        /// A provider file id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<String>,
        /// `low|high|auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A file (PDF…) by data URL, URL or file id.
    InputFile {
        /// `data:<mime>;base64,…`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_data: Option<String>,
        /// A provider file id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<String>,
        /// A remote URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_url: Option<String>,
        /// The file name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    /// Audio input.
    InputAudio {
        /// Payload and format.
        input_audio: InputAudio,
    },
}

/// `input_audio` payload.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InputAudio {
    /// Base64 audio.
    pub data: String,
    /// `wav`, `mp3`.
    pub format: String,
}

/// A `function_call` item.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct FunctionCallItem {
    /// The id a `function_call_output` answers.
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default)]
    pub arguments: String,
    /// Item id when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A `function_call_output` item.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct FunctionCallOutputItem {
    /// The call this answers.
    pub call_id: String,
    /// Text or parts.
    pub output: MessageContent,
    /// Item id when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A `reasoning` item: one type for the item in an answer's `output` and the same item sent
/// back in `input`, so the two can never drift apart.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ReasoningItem {
    /// Item id (`rs_…`); the encoders always set it, a client echoing the item may omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Visible summary parts.
    #[serde(default)]
    pub summary: Vec<SummaryText>,
    /// Opaque reasoning state, returned byte-exact (a converted answer carries the issuer's
    /// signature here, §3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// Raw reasoning text parts (open-weight models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<SummaryText>>,
    /// Item status when echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A `summary_text` (or `reasoning_text`) part.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct SummaryText {
    /// `summary_text` / `reasoning_text`.
    #[serde(rename = "type", default = "summary_text")]
    pub kind: String,
    /// The text.
    #[serde(default)]
    pub text: String,
}

impl SummaryText {
    /// A `summary_text` part.
    pub fn new(text: impl Into<String>) -> Self {
        SummaryText { kind: summary_text(), text: text.into() }
    }
}

fn summary_text() -> String {
    "summary_text".to_owned()
}

/// One entry of `tools`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ResponsesTool {
    /// `function`, or a built-in tool type that cannot be converted.
    #[serde(rename = "type")]
    pub kind: String,
    /// Function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Fields of built-in tools.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `text`: output format plus other knobs (`verbosity`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct TextConfig {
    /// Structured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// Everything else, verbatim.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `text.format`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name.
        name: String,
        /// The JSON Schema.
        #[serde(default)]
        schema: Value,
        /// What the schema is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Strict adherence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

/// `reasoning`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ReasoningConfig {
    /// `none|minimal|low|medium|high|xhigh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// `auto|concise|detailed` (no hub equivalent: kept in `extra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Everything else (`generate_summary`), verbatim.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_items_may_omit_type_and_serialise_with_it() {
        let items: Vec<InputItem> = serde_json::from_value(json!([
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "item_reference", "id": "msg_1"}
        ]))
        .unwrap();
        assert!(matches!(&items[0], InputItem::Message(m) if m.role == "user"));
        assert!(matches!(&items[2], InputItem::Other { kind, .. } if kind == "item_reference"));
        let back = serde_json::to_value(&items).unwrap();
        assert_eq!(back[0], json!({"type": "message", "role": "user", "content": "hi"}));
        assert_eq!(back[2], json!({"type": "item_reference", "id": "msg_1"}));
    }

    #[test]
    fn bad_items_are_errors_not_panics() {
        assert!(serde_json::from_value::<InputItem>(json!({"content": "x"})).is_err());
        assert!(serde_json::from_value::<InputItem>(json!({"type": "function_call"})).is_err());
        assert!(serde_json::from_value::<InputItem>(json!(3)).is_err());
        let e = serde_json::from_value::<InputItem>(
            json!({"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "image_url"}]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("content part 1") && e.contains("image_url"), "{e}");
    }
}
