//! OpenAI wire formats.

pub mod chat;
pub mod chat_request;
pub mod chat_response;
pub mod chat_stream;
pub mod chat_types;
pub mod dialect;

#[cfg(test)]
mod chat_tests;
