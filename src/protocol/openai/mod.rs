//! OpenAI wire formats.

pub mod chat;
