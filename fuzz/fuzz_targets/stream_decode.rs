//! Every stream converter's decoding side: any SSE byte stream from an upstream of each
//! protocol becomes hub events (or nothing), never a panic.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use switchyard::protocol::dialect;
use switchyard::protocol::ir::StreamDecoder;
use switchyard::protocol::sse::SseDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((up, wire)) = common::split(data) else { return };
    let mut decoder = dialect::stream_decoder(up);
    let mut out = Vec::new();
    for event in SseDecoder::new().feed(wire) {
        decoder.decode(&event, &mut out);
    }
    decoder.finish(&mut out);
    let _ = decoder.raw_finish_reason();
});
