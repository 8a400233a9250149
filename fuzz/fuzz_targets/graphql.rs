//! SECURITY.md I01 for the GraphQL subset of the subscription service's
//! account-access check (`server/iam/graphql.rs` `parse_query`): any
//! document is fields or an error, never a panic, and never nests deeper
//! than the bound. The property test `i01_graphql_never_panics` runs the
//! same check in CI.
#![no_main]

use komodo_server::iam::graphql::{Field, MAX_DEPTH, MAX_FIELDS, parse_query};
use libfuzzer_sys::fuzz_target;

fn depth(fields: &[Field]) -> usize {
    fields.iter().map(|f| 1 + depth(&f.selection)).max().unwrap_or(0)
}

fn count(fields: &[Field]) -> usize {
    fields.iter().map(|f| 1 + count(&f.selection)).sum()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(fields) = parse_query(&text) {
        assert!(depth(&fields) <= MAX_DEPTH);
        assert!(count(&fields) <= MAX_FIELDS);
    }
});
