//! Short codes for conversion warnings (provisional; replaced by the converters' own table).

use super::Warning;

impl Warning {
    /// A short stable code for the `x-switchyard-warnings` header and the log.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::TemperatureClamped { .. } => "temperature_clamped",
            Warning::MaxTokensDefaulted(_) => "max_tokens_defaulted",
            Warning::FieldDropped { .. } => "field_dropped",
            Warning::ThinkingDisabled(_) => "thinking_disabled",
            Warning::ToolIdRewritten { .. } => "tool_id_rewritten",
        }
    }

    /// The client's field the warning is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Warning::TemperatureClamped { .. } => Some("temperature"),
            Warning::MaxTokensDefaulted(_) => Some("max_tokens"),
            Warning::FieldDropped { field, .. } => Some(field),
            Warning::ThinkingDisabled(_) => Some("thinking"),
            Warning::ToolIdRewritten { .. } => Some("tool_calls"),
        }
    }
}
