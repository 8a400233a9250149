//! SECURITY.md I01 for the gateway: request bodies (plain or gzip, as
//! `parse_body` reads them for every endpoint) into each request type, a
//! query request's bindings into parameters and DataFusion scalars, the
//! `RESULT_SCAN` shortcut, and the `Authorization` header, never panic. The
//! first input byte chooses what the rest is. The property test
//! `i01_gateway_json_never_panics` (and `i01_bind_parameters_never_panic`
//! in the warehouse) runs the same checks in CI.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use komodo_protocol::gateway::{AbortRequest, LoginRequest, QueryRequest, TokenRequest};
use komodo_server::gateway::body::parse_body;
use komodo_server::gateway::query::{binding_rows, result_scan_target};
use komodo_server::gateway::wire::credential;
use komodo_warehouse::Param;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        // A body, with or without `Content-Encoding: gzip` (the gzip magic
        // bytes select decompression either way).
        0 | 1 => {
            let gzip_header = mode % 4 == 1;
            let _ = parse_body::<LoginRequest>(rest, gzip_header);
            let _ = parse_body::<TokenRequest>(rest, gzip_header);
            let _ = parse_body::<AbortRequest>(rest, gzip_header);
            if let Ok(request) = parse_body::<QueryRequest>(rest, gzip_header) {
                let _ = result_scan_target(&request.sql_text);
                if let Ok(rows) = binding_rows(request.bindings, 65_536) {
                    for param in rows.iter().flatten() {
                        let _ = param.to_scalar();
                    }
                }
            }
        }
        // One bind parameter: type name, a NUL, the value (none without NUL).
        2 => {
            let text = String::from_utf8_lossy(rest);
            let param = match text.split_once('\0') {
                Some((type_name, value)) => Param::new(type_name, Some(value.to_owned())),
                None => Param::new(text.as_ref(), None),
            };
            let _ = param.to_scalar();
        }
        // The `Authorization` header, and the statement text alone.
        _ => {
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                let mut headers = HeaderMap::new();
                headers.insert(header::AUTHORIZATION, value);
                let _ = credential(&headers);
            }
            let _ = result_scan_target(&String::from_utf8_lossy(rest));
        }
    }
});
