//! SECURITY.md I01: the credentials file parser never panics, and whatever
//! it accepts renders back to the same bytes and survives an edit.
#![no_main]

use komodo::credentials::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut doc) = Document::parse_bytes(data) {
        assert_eq!(doc.render().as_bytes(), data);
        let _ = doc.set("default", "token", "fuzzed");
        let rendered = doc.render();
        let reparsed = Document::parse(&rendered).expect("an edited document parses");
        assert_eq!(reparsed.get("default", "token"), Some("fuzzed"));
    }
});
