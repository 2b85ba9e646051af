//! The hub request: everything any supported protocol can ask of a model.
//!
//! Every optional knob is an `Option` so that an explicit `0`, `0.0` or `false` from the client
//! survives to the upstream (PROTOCOLS.md trap #11); `None` means "the client did not say".

use super::{Protocol, Warning};
use crate::protocol::error::ApiError;
use serde_json::{Map, Value};

/// One model request in Switchyard's own terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// The model id as the upstream should see it (the caller rewrites it before rendering).
    pub model: String,
    /// Leading system/developer instructions, in order. Later ones live in `turns` as
    /// [`Role::System`] turns so their position is kept (PROTOCOLS.md §3.1).
    pub system: Vec<SystemBlock>,
    /// The conversation, in order.
    pub turns: Vec<Turn>,
    /// Function tools the model may call.
    pub tools: Vec<Tool>,
    /// How the model must use `tools`; `None` = protocol default (auto when tools are given).
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` forbids several calls in one turn; `None` = provider default.
    pub parallel_tool_calls: Option<bool>,
    /// Upper bound on generated tokens (reasoning included, as every protocol counts it).
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature as the client sent it (range differs per protocol).
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic, Gemini).
    pub top_k: Option<u32>,
    /// Stop sequences (a single OpenAI string becomes a one-element list).
    pub stop: Vec<String>,
    /// Number of choices/candidates; only OpenAI and Gemini can return more than one.
    pub n: Option<u32>,
    /// Deterministic sampling seed (OpenAI, Gemini).
    pub seed: Option<i64>,
    /// Presence penalty (OpenAI, Gemini).
    pub presence_penalty: Option<f64>,
    /// Frequency penalty (OpenAI, Gemini).
    pub frequency_penalty: Option<f64>,
    /// Token log-probabilities wanted in the answer (changes the answer's shape).
    pub logprobs: Option<bool>,
    /// How many alternatives per token with `logprobs`.
    pub top_logprobs: Option<u32>,
    /// Structured output.
    pub response_format: Option<ResponseFormat>,
    /// Thinking / reasoning control.
    pub reasoning: Option<Reasoning>,
    /// The client wants a stream.
    pub stream: bool,
    /// The client asked for usage in the stream (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
    /// End-user tags.
    pub metadata: Metadata,
    /// Fields of the source protocol with no hub equivalent; sent only back to that protocol.
    pub extra: Extra,
}

/// One system instruction block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemBlock {
    /// The instruction text.
    pub text: String,
    /// Anthropic prompt-cache breakpoint after this block.
    pub cache: Option<CacheHint>,
}

/// A prompt-cache breakpoint (Anthropic `cache_control`); dropped by protocols without one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheHint {
    /// `"5m"` / `"1h"` when the client chose a lifetime.
    pub ttl: Option<String>,
}

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A system/developer message that came after the conversation started (§3.1).
    System,
    /// The end user.
    User,
    /// The model (history, or a final prefill).
    Assistant,
    /// Results of tool calls; holds only [`Part::ToolResult`] parts.
    Tool,
}

/// One turn of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// The speaker.
    pub role: Role,
    /// The content, in order.
    pub parts: Vec<Part>,
    /// Prompt-cache breakpoint after the last part of this turn.
    pub cache: Option<CacheHint>,
}

impl Turn {
    /// A turn without a cache hint.
    pub fn new(role: Role, parts: Vec<Part>) -> Self {
        Turn { role, parts, cache: None }
    }

    /// The parts of the last of `turns` when it has `role`, else of a new empty turn pushed for
    /// it. Every inbound converter groups this way: consecutive same-role input is one hub turn
    /// (PROTOCOLS.md §3.1) and parallel tool results are one tool turn (§3.4 c).
    pub fn last_or_new(turns: &mut Vec<Turn>, role: Role) -> &mut Vec<Part> {
        if turns.last().map(|t| t.role) != Some(role) {
            turns.push(Turn::new(role, Vec::new()));
        }
        // Not empty: a turn was pushed above when there was none.
        let last = turns.len() - 1;
        &mut turns[last].parts
    }
}

impl Request {
    /// Adds system texts where they stand: before the first non-system message (`leading`) they
    /// join [`Request::system`], later they keep their place as a [`Role::System`] turn
    /// (PROTOCOLS.md §3.1). OpenAI Chat and Responses both carry system text as messages.
    pub fn push_system_texts(&mut self, texts: Vec<String>, leading: bool) {
        if leading {
            self.system.extend(texts.into_iter().map(|text| SystemBlock { text, cache: None }));
        } else {
            self.turns.push(Turn::new(Role::System, texts.into_iter().map(Part::text).collect()));
        }
    }
}

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A remote `http(s)` URL (fetching it is the gateway's job, not the converter's).
    Url(String),
    /// Inline bytes, still base64 as every protocol carries them.
    Base64 {
        /// e.g. `image/png`.
        media_type: String,
        /// Base64 payload without the `data:` prefix.
        data: String,
    },
}

/// Where a document (PDF, plain text) comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentSource {
    /// Inline base64 bytes.
    Base64 {
        /// e.g. `application/pdf`.
        media_type: String,
        /// Base64 payload.
        data: String,
    },
    /// A remote URL.
    Url(String),
    /// Plain text content.
    Text(String),
}

/// One piece of content.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Plain text.
    Text {
        /// The text (converters drop empty ones where a protocol rejects them, trap #19).
        text: String,
    },
    /// An image.
    Image {
        /// Its bytes or URL.
        source: ImageSource,
    },
    /// A document such as a PDF.
    Document {
        /// Its bytes, URL or text.
        source: DocumentSource,
        /// A title or file name when the client gave one.
        title: Option<String>,
    },
    /// Input audio (OpenAI `input_audio`); Anthropic cannot take it (400).
    Audio {
        /// Format as sent (`wav`, `mp3`).
        format: String,
        /// Base64 payload.
        data: String,
    },
    /// A provider-side file id; ids never cross providers (400 elsewhere).
    FileRef {
        /// The protocol whose provider issued the id.
        issuer: Protocol,
        /// The id.
        file_id: String,
    },
    /// Model reasoning. The signature is opaque and returned byte-exact to its issuer only.
    Thinking {
        /// The visible reasoning text.
        text: String,
        /// Issuer's signature, if any.
        signature: Option<String>,
    },
    /// Encrypted reasoning the provider would not show.
    RedactedThinking {
        /// Opaque payload, byte-exact.
        data: String,
    },
    /// A tool call made by the assistant.
    ToolUse {
        /// The call id (rewritten per protocol when its alphabet differs, §3.4d).
        id: String,
        /// Function name.
        name: String,
        /// Arguments as JSON (invalid JSON from OpenAI becomes `{"_raw_arguments": …}`).
        input: Value,
    },
    /// The result of a tool call.
    ToolResult {
        /// The id of the call this answers.
        tool_use_id: String,
        /// The function name, recovered from the matching call when the protocol lacks it.
        name: Option<String>,
        /// The result content (text, images).
        content: Vec<Part>,
        /// The tool failed.
        is_error: bool,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    /// Function name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the arguments (default `{"type":"object","properties":{}}`).
    pub schema: Value,
    /// Strict schema adherence.
    pub strict: Option<bool>,
    /// Prompt-cache breakpoint after this tool.
    pub cache: Option<CacheHint>,
}

/// How the model must use the tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This one function.
    Tool(String),
    /// Only these functions; `required` forces a call among them.
    Allowed {
        /// Permitted function names.
        names: Vec<String>,
        /// A call is mandatory.
        required: bool,
    },
}

/// Structured output.
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default, made explicit).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name (OpenAI requires one).
        name: String,
        /// Description of the schema.
        description: Option<String>,
        /// The JSON Schema.
        schema: Value,
        /// Strict adherence.
        strict: Option<bool>,
    },
}

/// Reasoning effort levels shared by OpenAI, Anthropic and Gemini.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// OpenAI `minimal`, Gemini `MINIMAL`.
    Minimal,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// OpenAI `xhigh`, Gemini `XHIGH`.
    XHigh,
    /// `max` (Anthropic, OpenAI).
    Max,
}

impl Effort {
    /// Parses a lowercase effort word; `none` is not an effort but [`Reasoning::Off`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "minimal" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            "xhigh" => Effort::XHigh,
            "max" => Effort::Max,
            _ => return None,
        })
    }

    /// The lowercase word OpenAI and Anthropic use.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// Share of `max_tokens` given to a thinking budget (PROTOCOLS.md §3.6 policy).
    pub fn budget_ratio(self) -> f64 {
        match self {
            Effort::Minimal => 0.1,
            Effort::Low => 0.2,
            Effort::Medium => 0.4,
            Effort::High => 0.6,
            Effort::XHigh => 0.8,
            Effort::Max => 0.9,
        }
    }

    /// The effort for a thinking `budget`, for targets that take an effort word and no budget
    /// (OpenAI Chat and Responses): the least effort whose [`Effort::budget_ratio`] of
    /// `max_tokens` covers the budget, or fixed thresholds when `max_tokens` is unknown. Written
    /// once so both OpenAI targets pick the same word for the same request.
    pub fn for_budget(budget: u32, max_tokens: Option<u32>) -> Effort {
        match max_tokens.filter(|m| *m > 0) {
            Some(m) => {
                let ratio = f64::from(budget) / f64::from(m);
                [Effort::Minimal, Effort::Low, Effort::Medium, Effort::High, Effort::XHigh]
                    .into_iter()
                    .find(|e| ratio <= e.budget_ratio())
                    .unwrap_or(Effort::High)
            }
            None if budget < 4096 => Effort::Low,
            None if budget < 16384 => Effort::Medium,
            None => Effort::High,
        }
    }
}

impl Reasoning {
    /// For targets that take only an effort word: a budget becomes the covering
    /// [`Effort::for_budget`] word, with a warning (the budget itself cannot be sent).
    pub fn effort_word_for(&self, max_tokens: Option<u32>, warnings: &mut Vec<Warning>) -> Option<&'static str> {
        match self {
            Reasoning::Off => Some("none"),
            Reasoning::Effort(e) | Reasoning::Adaptive(Some(e)) => Some(e.as_str()),
            Reasoning::Adaptive(None) => None,
            Reasoning::Budget(b) => {
                let effort = Effort::for_budget(*b, max_tokens).as_str();
                warnings.push(Warning::ThinkingBudgetApproximated { budget: *b, effort });
                Some(effort)
            }
        }
    }

    /// Reads an OpenAI effort word (Chat `reasoning_effort`, Responses `reasoning.effort`):
    /// `none` is [`Reasoning::Off`], another known word an effort; `None` for an unknown word,
    /// which the caller refuses naming its own field.
    pub fn from_effort_word(word: &str) -> Option<Reasoning> {
        match word {
            "none" => Some(Reasoning::Off),
            e => Effort::parse(e).map(Reasoning::Effort),
        }
    }
}

/// Thinking control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reasoning {
    /// No thinking (OpenAI `none`, Anthropic `disabled`, Gemini budget 0).
    Off,
    /// Think with this effort.
    Effort(Effort),
    /// Think with this token budget (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    Budget(u32),
    /// The model decides how much (Anthropic `adaptive`, Gemini budget −1), optionally hinted.
    Adaptive(Option<Effort>),
}

/// End-user tags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// A stable end-user id (OpenAI `user`/`safety_identifier`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Free-form string tags (OpenAI `metadata`, Gemini `labels`).
    pub tags: Map<String, Value>,
}

/// Source-protocol fields with no hub equivalent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// The protocol these fields belong to (`None` when there are none).
    pub source: Option<Protocol>,
    /// The fields, verbatim.
    pub fields: Map<String, Value>,
    /// Names among `fields` that change the answer's shape: another protocol must refuse (400)
    /// rather than drop them.
    pub answer_changing: Vec<String>,
}

impl Extra {
    /// For a target these fields do not belong to: refuses (400) the first answer-changing
    /// field, else drops every field with a warning. The rule is the same whichever protocol
    /// renders, so the OpenAI Chat, Responses and Anthropic renderers share it.
    pub fn refuse_or_drop(&self, warnings: &mut Vec<Warning>) -> Result<(), ApiError> {
        if let Some(field) = self.answer_changing.first() {
            return Err(ApiError::invalid_field(field.clone(), format!("`{field}` cannot be sent to this model's provider")));
        }
        for k in self.fields.keys() {
            warnings.push(Warning::FieldDropped { field: k.clone(), reason: "no equivalent in the upstream protocol" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_map_to_the_covering_effort() {
        assert_eq!(Effort::for_budget(2000, Some(10000)), Effort::Low);
        assert_eq!(Effort::for_budget(1000, Some(10000)), Effort::Minimal);
        assert_eq!(Effort::for_budget(9500, Some(10000)), Effort::High);
        assert_eq!(Effort::for_budget(100, Some(0)), Effort::Low);
        assert_eq!(Effort::for_budget(4095, None), Effort::Low);
        assert_eq!(Effort::for_budget(4096, None), Effort::Medium);
        assert_eq!(Effort::for_budget(16384, None), Effort::High);
        assert_eq!(Reasoning::from_effort_word("none"), Some(Reasoning::Off));
        assert_eq!(Reasoning::from_effort_word("xhigh"), Some(Reasoning::Effort(Effort::XHigh)));
        assert_eq!(Reasoning::from_effort_word("huge"), None);
    }

    #[test]
    fn turns_group_by_role_and_late_system_text_keeps_its_place() {
        let mut r = Request::default();
        r.push_system_texts(vec!["a".into()], true);
        Turn::last_or_new(&mut r.turns, Role::Tool).push(Part::text("1"));
        Turn::last_or_new(&mut r.turns, Role::Tool).push(Part::text("2"));
        r.push_system_texts(vec!["b".into()], false);
        Turn::last_or_new(&mut r.turns, Role::Assistant);
        assert_eq!(r.system, vec![SystemBlock { text: "a".into(), cache: None }]);
        assert_eq!(
            r.turns,
            vec![
                Turn::new(Role::Tool, vec![Part::text("1"), Part::text("2")]),
                Turn::new(Role::System, vec![Part::text("b")]),
                Turn::new(Role::Assistant, Vec::new()),
            ]
        );
    }

    #[test]
    fn foreign_extra_is_refused_when_it_changes_the_answer_else_dropped() {
        let mut extra = Extra { source: Some(Protocol::OpenAiChat), ..Default::default() };
        extra.fields.insert("service_tier".into(), Value::from("flex"));
        let mut warnings = Vec::new();
        assert!(extra.refuse_or_drop(&mut warnings).is_ok());
        assert_eq!(
            warnings,
            vec![Warning::FieldDropped { field: "service_tier".into(), reason: "no equivalent in the upstream protocol" }]
        );
        extra.answer_changing = vec!["audio".into()];
        assert_eq!(extra.refuse_or_drop(&mut warnings).unwrap_err().param.as_deref(), Some("audio"));
    }
}
