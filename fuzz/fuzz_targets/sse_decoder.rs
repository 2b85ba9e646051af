//! The SSE decoder: any bytes, split anywhere, under a small limit, never panic and never
//! buffer past the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchyard::protocol::sse::SseDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((cut, rest)) = data.split_first() else { return };
    let at = usize::from(*cut).min(rest.len());
    let mut d = SseDecoder::with_limit(4096);
    for piece in [&rest[..at], &rest[at..]] {
        if d.feed_with(piece, |e| assert!(e.data.len() <= 4096)).is_err() {
            break;
        }
    }
    let _ = d.has_partial_event();
});
