//! The config loader: any text is a config or an error naming a field, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = switchyard::config::parse(text, &|name| (name.len() < 8).then(|| "value".to_owned()));
});
