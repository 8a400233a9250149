//! SECURITY.md I01: the credentials file parser never panics, whatever it
//! accepts renders back to the same bytes and survives an edit, and every
//! section it holds reads as a profile or an error naming the line, with
//! a token expiry (`token_expiration`, or the token's own `exp`) that
//! never overflows.
#![no_main]

use std::path::Path;

use komodo::auth::{from_unix_seconds, jwt_expiry};
use komodo::credentials::{Document, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut doc) = Document::parse_bytes(data) {
        assert_eq!(doc.render().as_bytes(), data);
        let names: Vec<String> = doc.section_names().map(str::to_owned).collect();
        for name in &names {
            if let Ok(Some(Profile::Token(profile))) = Profile::from_document(&doc, name, Path::new("credentials")) {
                let _ = profile.token_expiration.map(from_unix_seconds);
                let _ = profile.token.as_ref().and_then(jwt_expiry);
            }
        }
        let _ = doc.set("default", "token", "fuzzed");
        let rendered = doc.render();
        let reparsed = Document::parse(&rendered).expect("an edited document parses");
        assert_eq!(reparsed.get("default", "token"), Some("fuzzed"));
    }
});
