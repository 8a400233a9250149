//! SECURITY.md F01 and F02 for SQL: statement preparation (the token pass,
//! the parser in Snowflake's dialect and the rewrite of Snowflake
//! functions) is bounded in time and size as well as never panicking.
//!
//! The oracle, beyond "no panic":
//! - time: preparing takes at most a base of 2 s plus 50 µs per byte of the
//!   statement (generous for a sanitizer build; the quadratic token pass of
//!   F01 or an exponential rewrite blows through it at a few kilobytes);
//! - size: the rewritten statement has at most 16 times the expression
//!   nodes of the parsed one, plus 64 (no rewrite copies a subtree, F02).
//!
//! Inputs are taken as text; a few bytes of input are also repeated to
//! build long one-line statements, the shape F01 was found with.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

fn check(sql: &str) {
    let started = Instant::now();
    let outcome = komodo_warehouse::parse_check(sql);
    let elapsed = started.elapsed();
    let budget = Duration::from_secs(2) + Duration::from_micros(50) * u32::try_from(sql.len()).unwrap_or(u32::MAX);
    assert!(elapsed <= budget, "preparing {} bytes took {elapsed:?} (budget {budget:?})", sql.len());
    if let Ok(sizes) = outcome {
        assert!(
            sizes.rewritten_expressions <= sizes.parsed_expressions * 16 + 64,
            "the rewrite grew {} expressions to {}",
            sizes.parsed_expressions,
            sizes.rewritten_expressions
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check(text);
    // The first line as a prefix, the rest repeated on one line: a long
    // statement of the fuzzer's making (at most about 256 KB).
    if let Some((head, body)) = text.split_once('\n')
        && !body.is_empty()
        && !body.contains('\n')
    {
        let times = (256 * 1024 / body.len()).min(10_000);
        check(&format!("{head}{}", body.repeat(times)));
    }
});
