//! Knobs and side notes shared by every hub conversion.

use serde::Deserialize;

/// `max_tokens` sent to Anthropic when neither the client nor the model's config says (Anthropic
/// requires the field, trap #12).
pub const FALLBACK_MAX_TOKENS: u32 = 4096;

/// Room left for the visible answer when a thinking budget forces `max_tokens` up: the raised
/// value is `budget + ANSWER_ROOM` (capped by the model's `max_output_tokens`), so a client
/// asking for a large budget still gets an answer after the thinking.
pub const ANSWER_ROOM: u32 = 1024;

/// A sampling field a model may refuse (config `models[].capabilities.rejects`). Named by the
/// hub concept; each protocol's own spelling (`top_p` / `topP`) is dropped for the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplingField {
    /// `temperature`.
    Temperature,
    /// `top_p` / `topP`.
    TopP,
    /// `top_k` / `topK`.
    TopK,
    /// `seed`.
    Seed,
    /// `presence_penalty` / `presencePenalty`.
    PresencePenalty,
    /// `frequency_penalty` / `frequencyPenalty`.
    FrequencyPenalty,
    /// `stop` / `stop_sequences` / `stopSequences`.
    Stop,
}

impl SamplingField {
    /// Every field, for tests and documentation.
    pub const ALL: [SamplingField; 7] = [
        SamplingField::Temperature,
        SamplingField::TopP,
        SamplingField::TopK,
        SamplingField::Seed,
        SamplingField::PresencePenalty,
        SamplingField::FrequencyPenalty,
        SamplingField::Stop,
    ];

    /// The snake_case name used in the config and in warnings.
    pub fn as_str(self) -> &'static str {
        match self {
            SamplingField::Temperature => "temperature",
            SamplingField::TopP => "top_p",
            SamplingField::TopK => "top_k",
            SamplingField::Seed => "seed",
            SamplingField::PresencePenalty => "presence_penalty",
            SamplingField::FrequencyPenalty => "frequency_penalty",
            SamplingField::Stop => "stop",
        }
    }
}

/// Caller-supplied facts a conversion cannot know by itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvertOptions {
    /// `max_tokens` for Anthropic when the client sent none (Anthropic requires it, trap #12):
    /// the model's `max_output_tokens` from the config, else [`FALLBACK_MAX_TOKENS`].
    pub default_max_tokens: u32,
    /// The model's `max_output_tokens` when the config names it: the ceiling a thinking budget
    /// may raise `max_tokens` to (beyond it the request is refused, naming `thinking`).
    pub max_output_tokens: Option<u32>,
    /// Sampling fields the model refuses (config `capabilities.rejects`); converters and the
    /// passthrough path drop them with a [`Warning::SamplingFieldDropped`].
    pub rejected_sampling: Vec<SamplingField>,
    /// The `anthropic-version` the upstream request will carry. Under `2026-10-21` and later the
    /// API refuses `temperature`/`top_p`/`top_k`, so they are dropped with a warning.
    pub anthropic_version: String,
    /// The Anthropic model accepts `{"role":"system"}` inside `messages` (§3.1); otherwise a late
    /// system message becomes user text `<system>…</system>` in place.
    pub anthropic_system_role: bool,
    /// Stream/return thinking text to OpenAI Chat clients as `reasoning_content` (the de-facto
    /// field many clients read); when false it is withheld.
    pub chat_reasoning_content: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            default_max_tokens: FALLBACK_MAX_TOKENS,
            max_output_tokens: None,
            rejected_sampling: Vec::new(),
            anthropic_version: "2023-06-01".into(),
            anthropic_system_role: false,
            chat_reasoning_content: true,
        }
    }
}

impl ConvertOptions {
    /// Options for a model whose config says `max_output_tokens` and `rejects` (both optional):
    /// the default `max_tokens` becomes the model's own ceiling.
    pub fn for_model(max_output_tokens: Option<u32>, rejected_sampling: &[SamplingField]) -> Self {
        ConvertOptions {
            default_max_tokens: max_output_tokens.unwrap_or(FALLBACK_MAX_TOKENS),
            max_output_tokens,
            rejected_sampling: rejected_sampling.to_vec(),
            ..ConvertOptions::default()
        }
    }

    /// True when the configured Anthropic version refuses sampling fields ([A-VER]).
    pub fn anthropic_rejects_sampling(&self) -> bool {
        // Versions are ISO dates, so string order is date order.
        self.anthropic_version.as_str() >= "2026-10-21"
    }

    /// True when the model refuses `field`.
    pub fn rejects(&self, field: SamplingField) -> bool {
        self.rejected_sampling.contains(&field)
    }
}

/// Something a conversion dropped, clamped or rewrote of what the client sent (never silent,
/// §1.1 rule). The gateway logs each one and lists their [`Warning::code`]s in the
/// `x-switchyard-warnings` response header; with `x-switchyard-strict: true` any of them is
/// a 400 naming [`Warning::field`].
///
/// | Code | Field | Meaning |
/// |---|---|---|
/// | `temperature_clamped` | `temperature` | above the target's range; sent as its maximum |
/// | `max_tokens_defaulted` | `max_tokens` | the client sent none and the target requires it; the model's default was sent |
/// | `max_tokens_raised` | `max_tokens` | a thinking budget at or above `max_tokens` raised it to budget + 1024 (capped by the model) |
/// | `thinking_budget_raised` | `thinking` | a budget under the target's minimum (1024) was raised to it |
/// | `thinking_disabled` | `thinking` | thinking was asked for but could not be kept on |
/// | `thinking_budget_approximated` | `thinking` | a token budget sent as the nearest effort word (OpenAI takes no budget) |
/// | `tool_choice_relaxed` | `tool_choice` | a forced tool choice became `auto` (the target refuses forced tools with thinking) |
/// | `sampling_field_dropped` | the field (`temperature`, `top_p`, …) | the model or API version refuses it |
/// | `field_dropped` | the field | the target has no equivalent and the answer's shape does not depend on it |
/// | `whitespace_text_dropped` | `messages[i].content[j]` | a whitespace-only text block the target rejects |
/// | `tool_id_rewritten` | `tool_call_id` | a tool call id rewritten to fit the target's alphabet (mapped back consistently) |
#[derive(Clone, Debug, PartialEq)]
pub enum Warning {
    /// A sampling value outside the target's range was clamped.
    TemperatureClamped {
        /// Value the client sent.
        from: f64,
        /// Value sent upstream.
        to: f64,
    },
    /// `max_tokens` was filled from the configured default.
    MaxTokensDefaulted(u32),
    /// `max_tokens` was raised so a thinking budget fits under it.
    MaxTokensRaised {
        /// The client's (or defaulted) value.
        from: u32,
        /// Value sent upstream.
        to: u32,
    },
    /// A thinking budget below the target's minimum was raised to it.
    ThinkingBudgetRaised {
        /// The client's budget.
        from: u32,
        /// Budget sent upstream.
        to: u32,
    },
    /// A field the target cannot express and that does not change the answer's shape.
    FieldDropped {
        /// The client's field name.
        field: String,
        /// Why.
        reason: &'static str,
    },
    /// A sampling field the model (config `capabilities.rejects`) or API version refuses.
    SamplingFieldDropped {
        /// The field.
        field: SamplingField,
        /// Why.
        reason: &'static str,
    },
    /// A thinking budget became an effort word (OpenAI Chat and Responses take no budget).
    ThinkingBudgetApproximated {
        /// The client's budget.
        budget: u32,
        /// The effort word sent.
        effort: &'static str,
    },
    /// A forced tool choice became `auto`.
    ToolChoiceRelaxed(&'static str),
    /// Thinking was requested but had to be switched off.
    ThinkingDisabled(&'static str),
    /// A whitespace-only text block was left out (Anthropic rejects them).
    WhitespaceTextDropped {
        /// Where it was, e.g. `messages[2].content[0]`.
        field: String,
    },
    /// A tool call id was rewritten to fit the target's alphabet.
    ToolIdRewritten {
        /// Original id.
        from: String,
        /// Id sent upstream.
        to: String,
    },
}

impl Warning {
    /// A short stable snake_case code for headers and logs (see the table on [`Warning`]).
    pub fn code(&self) -> &'static str {
        match self {
            Warning::TemperatureClamped { .. } => "temperature_clamped",
            Warning::MaxTokensDefaulted(_) => "max_tokens_defaulted",
            Warning::MaxTokensRaised { .. } => "max_tokens_raised",
            Warning::ThinkingBudgetRaised { .. } => "thinking_budget_raised",
            Warning::FieldDropped { .. } => "field_dropped",
            Warning::SamplingFieldDropped { .. } => "sampling_field_dropped",
            Warning::ThinkingBudgetApproximated { .. } => "thinking_budget_approximated",
            Warning::ToolChoiceRelaxed(_) => "tool_choice_relaxed",
            Warning::ThinkingDisabled(_) => "thinking_disabled",
            Warning::WhitespaceTextDropped { .. } => "whitespace_text_dropped",
            Warning::ToolIdRewritten { .. } => "tool_id_rewritten",
        }
    }

    /// Whether the client loses something it sent (strict mode refuses these). A default filled
    /// in where the client sent nothing, or a tool-call id rewritten and mapped back, loses
    /// nothing the client can see.
    pub fn is_loss(&self) -> bool {
        !matches!(self, Warning::MaxTokensDefaulted(_) | Warning::ToolIdRewritten { .. })
    }

    /// The client's field at fault, for a strict-mode 400 and the log.
    pub fn field(&self) -> Option<&str> {
        Some(match self {
            Warning::TemperatureClamped { .. } => "temperature",
            Warning::MaxTokensDefaulted(_) | Warning::MaxTokensRaised { .. } => "max_tokens",
            Warning::ThinkingBudgetRaised { .. } | Warning::ThinkingDisabled(_) | Warning::ThinkingBudgetApproximated { .. } => {
                "thinking"
            }
            Warning::FieldDropped { field, .. } | Warning::WhitespaceTextDropped { field } => field,
            Warning::SamplingFieldDropped { field, .. } => field.as_str(),
            Warning::ToolChoiceRelaxed(_) => "tool_choice",
            Warning::ToolIdRewritten { .. } => "tool_call_id",
        })
    }
}

/// A conversion result plus the warnings produced on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted<T> {
    /// The converted value (usually the body bytes).
    pub value: T,
    /// What was changed or dropped.
    pub warnings: Vec<Warning>,
}

/// A converted stream carries one choice and no log-probabilities (hub stream events have
/// neither), so a streamed request for several choices or for logprobs is refused, naming the
/// client's field (`n_field` / `logprobs_field`), rather than answered with less than it asked.
pub fn refuse_stream_extras(
    req: &super::Request,
    n_field: &str,
    logprobs_field: &str,
) -> Result<(), crate::protocol::error::ApiError> {
    use crate::protocol::error::ApiError;
    if !req.stream {
        return Ok(());
    }
    if req.n.is_some_and(|n| n > 1) {
        return Err(ApiError::invalid_field(
            n_field.to_owned(),
            format!("several choices cannot be streamed through this model's provider; `{n_field}` must be 1 or the request not streamed"),
        ));
    }
    if req.logprobs == Some(true) {
        return Err(ApiError::invalid_field(
            logprobs_field.to_owned(),
            format!(
                "log-probabilities cannot be streamed through this model's provider; drop `{logprobs_field}` or do not stream"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::Request;

    #[test]
    fn every_warning_has_a_code_and_a_field() {
        let all = [
            Warning::TemperatureClamped { from: 2.0, to: 1.0 },
            Warning::MaxTokensDefaulted(1),
            Warning::MaxTokensRaised { from: 1, to: 2 },
            Warning::ThinkingBudgetRaised { from: 1, to: 1024 },
            Warning::FieldDropped { field: "n".into(), reason: "x" },
            Warning::SamplingFieldDropped { field: SamplingField::TopP, reason: "x" },
            Warning::ToolChoiceRelaxed("x"),
            Warning::ThinkingDisabled("x"),
            Warning::ThinkingBudgetApproximated { budget: 1, effort: "low" },
            Warning::WhitespaceTextDropped { field: "messages[0].content[1]".into() },
            Warning::ToolIdRewritten { from: "a:b".into(), to: "a_b".into() },
        ];
        let codes: Vec<_> = all.iter().map(Warning::code).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "codes are distinct");
        let doc = include_str!("convert.rs");
        for (w, code) in all.iter().zip(&codes) {
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code} is snake_case");
            assert!(doc.contains(&format!("/// | `{code}` |")), "{code} is in the doc table");
            assert!(w.field().is_some_and(|f| !f.is_empty()));
        }
        assert_eq!(all[4].field(), Some("n"));
        assert_eq!(all[5].field(), Some("top_p"));
    }

    #[test]
    fn model_options_default_max_tokens_to_the_models_ceiling() {
        let o = ConvertOptions::for_model(Some(64000), &[SamplingField::Temperature]);
        assert_eq!((o.default_max_tokens, o.max_output_tokens), (64000, Some(64000)));
        assert!(o.rejects(SamplingField::Temperature) && !o.rejects(SamplingField::TopP));
        assert_eq!(ConvertOptions::for_model(None, &[]).default_max_tokens, FALLBACK_MAX_TOKENS);
    }

    #[test]
    fn streams_refuse_several_choices_and_logprobs_naming_the_clients_field() {
        let mut r = Request { stream: true, n: Some(2), ..Default::default() };
        assert_eq!(
            refuse_stream_extras(&r, "candidateCount", "responseLogprobs").unwrap_err().param.as_deref(),
            Some("candidateCount")
        );
        r.n = Some(1);
        r.logprobs = Some(true);
        assert_eq!(refuse_stream_extras(&r, "n", "logprobs").unwrap_err().param.as_deref(), Some("logprobs"));
        r.stream = false;
        r.n = Some(3);
        assert!(refuse_stream_extras(&r, "n", "logprobs").is_ok(), "whole answers carry every choice");
    }
}
