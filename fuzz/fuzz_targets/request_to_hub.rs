//! Every inbound request converter (client body → hub) and every outbound renderer (hub →
//! each upstream protocol): any body is an error or a request, never a panic.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;
use switchyard::protocol::dialect::{self, convert_request};
use switchyard::protocol::ir::ConvertOptions;

fuzz_target!(|data: &[u8]| {
    let Some((inbound, body)) = common::split(data) else { return };
    let Ok(req) = dialect::of(inbound).parse_inbound(body, Some("m"), false) else { return };
    let _ = req.passthrough_body("m", &ConvertOptions::default());
    let Ok((hub, _echo)) = req.to_hub() else { return };
    for up in common::PROTOCOLS {
        let _ = convert_request(dialect::of(up), &hub, &ConvertOptions::default());
    }
});
