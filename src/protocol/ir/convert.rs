//! Knobs and side notes shared by every hub conversion.

/// Caller-supplied facts a conversion cannot know by itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvertOptions {
    /// `max_tokens` for Anthropic when the client sent none (Anthropic requires it, trap #12);
    /// the gateway takes it from the model's config and echoes it in a header.
    pub default_max_tokens: u32,
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
            default_max_tokens: 4096,
            anthropic_version: "2023-06-01".into(),
            anthropic_system_role: false,
            chat_reasoning_content: true,
        }
    }
}

impl ConvertOptions {
    /// True when the configured Anthropic version refuses sampling fields ([A-VER]).
    pub fn anthropic_rejects_sampling(&self) -> bool {
        // Versions are ISO dates, so string order is date order.
        self.anthropic_version.as_str() >= "2026-10-21"
    }
}

/// Something a conversion changed that the gateway should log (never silent, §1.1 rule).
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
    /// A field the target cannot express and that does not change the answer's shape.
    FieldDropped {
        /// The client's field name.
        field: String,
        /// Why.
        reason: &'static str,
    },
    /// Thinking was requested but had to be switched off.
    ThinkingDisabled(&'static str),
    /// A tool call id was rewritten to fit the target's alphabet.
    ToolIdRewritten {
        /// Original id.
        from: String,
        /// Id sent upstream.
        to: String,
    },
}

/// A conversion result plus the warnings produced on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted<T> {
    /// The converted value (usually the body bytes).
    pub value: T,
    /// What was changed or dropped.
    pub warnings: Vec<Warning>,
}
