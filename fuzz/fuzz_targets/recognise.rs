//! Endpoint recognition: any method and path are an operation or a refusal, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchyard::protocol::dialect::recognise;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (method, path) = text.split_once(' ').unwrap_or(("POST", &text));
    let _ = recognise(method, path);
});
