//! Shared by the fuzz targets: the first input byte picks a protocol.
use switchyard::protocol::ir::Protocol;

pub const PROTOCOLS: [Protocol; 4] = [Protocol::OpenAiChat, Protocol::OpenAiResponses, Protocol::Anthropic, Protocol::Gemini];

pub fn split(data: &[u8]) -> Option<(Protocol, &[u8])> {
    let (first, rest) = data.split_first()?;
    Some((PROTOCOLS[usize::from(*first) % PROTOCOLS.len()], rest))
}
