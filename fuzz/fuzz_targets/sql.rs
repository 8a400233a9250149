//! SECURITY.md I01 for SQL: the warehouse's front end (the token pass, the
//! parser in Snowflake's dialect, the rewrite of Snowflake functions) that
//! every statement passes returns `Ok` or an error for any text, and never
//! panics or overflows its stack. The property test
//! `i01_sql_front_end_never_panics` runs the same function in CI; the
//! `sql_engine` target goes on to plan and run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sql) = std::str::from_utf8(data) {
        let _ = komodo_warehouse::parse_check(sql);
    }
});
