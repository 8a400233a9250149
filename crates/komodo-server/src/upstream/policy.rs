//! What the gateway lets through to an upstream Snowflake account, decided
//! on the statement before it is forwarded: the upstream session's
//! warehouse and role are the platform's to choose, its session parameters
//! are limited to an allow-list (formats, time zone, autocommit, ...), and
//! every statement carries a `QUERY_TAG` naming the Komodo principal and the
//! request, which the client can neither set nor change.
//!
//! Statements are read with Snowflake's lexical rules (quoted strings and
//! identifiers, `$$` strings, `--`, `//` and `/* */` comments), split at
//! their semicolons, and judged by their leading keywords: every statement
//! of a multi-statement request is checked.

use serde_json::{Map, Value};

/// Session parameters a client may set (`ALTER SESSION`, a login's
/// session parameters, a statement's parameters): how values are shown
/// and read, and the result format. Everything else (`QUERY_TAG`, timeouts,
/// network and client policies) is the platform's.
pub const ALLOWED_PARAMETERS: &[&str] = &[
    "AUTOCOMMIT",
    "BINARY_INPUT_FORMAT",
    "BINARY_OUTPUT_FORMAT",
    "DATE_INPUT_FORMAT",
    "DATE_OUTPUT_FORMAT",
    "ERROR_ON_NONDETERMINISTIC_MERGE",
    "ERROR_ON_NONDETERMINISTIC_UPDATE",
    "GEOGRAPHY_OUTPUT_FORMAT",
    "GEOMETRY_OUTPUT_FORMAT",
    "JDBC_QUERY_RESULT_FORMAT",
    "JSON_INDENT",
    "MULTI_STATEMENT_COUNT",
    "ODBC_QUERY_RESULT_FORMAT",
    "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT",
    "QUERY_RESULT_FORMAT",
    "ROWS_PER_RESULTSET",
    "STRICT_JSON_OUTPUT",
    "TIMESTAMP_DAY_IS_ALWAYS_24H",
    "TIMESTAMP_INPUT_FORMAT",
    "TIMESTAMP_LTZ_OUTPUT_FORMAT",
    "TIMESTAMP_NTZ_OUTPUT_FORMAT",
    "TIMESTAMP_OUTPUT_FORMAT",
    "TIMESTAMP_TYPE_MAPPING",
    "TIMESTAMP_TZ_OUTPUT_FORMAT",
    "TIMEZONE",
    "TIME_INPUT_FORMAT",
    "TIME_OUTPUT_FORMAT",
    "TWO_DIGIT_CENTURY_START",
    "USE_CACHED_RESULT",
    "WEEK_OF_YEAR_POLICY",
    "WEEK_START",
];

/// Statement parameters of this project's own clients that only the
/// gateway reads (never forwarded).
const GATEWAY_PARAMETERS: &[&str] = &[komodo_protocol::result_stream::RESULT_STREAM];

/// Why a statement is not forwarded: Snowflake's access-control code and
/// SQLSTATE, and a message that says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// Snowflake's code (`003001` for access control, `002049` for a bad
    /// parameter).
    pub code: &'static str,
    /// SQLSTATE.
    pub sql_state: &'static str,
    /// What was refused and what to do.
    pub message: String,
}

fn access(message: String) -> Refused {
    Refused { code: "003001", sql_state: "42501", message: format!("SQL access control error:\n{message}") }
}

fn is_allowed(name: &str) -> bool {
    ALLOWED_PARAMETERS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Checks every statement of `sql`; `read_only` for a caller whose Komodo
/// role only reads (`reader`): then only queries, `SHOW`, `DESCRIBE`,
/// `EXPLAIN`, `USE` of a database or schema, allowed `ALTER SESSION`s
/// and transaction control pass.
pub fn check_statement(sql: &str, read_only: bool) -> Result<(), Refused> {
    for words in statements(sql) {
        check_one(&words, read_only)?;
    }
    Ok(())
}

fn check_one(words: &[Word], read_only: bool) -> Result<(), Refused> {
    let upper = |i: usize| words.get(i).map(|w| w.text.to_ascii_uppercase()).unwrap_or_default();
    let first = upper(0);
    match first.as_str() {
        "" => return Ok(()),
        "USE" => {
            let what = upper(1);
            if matches!(what.as_str(), "WAREHOUSE" | "ROLE" | "SECONDARY") {
                return Err(access(format!(
                    "USE {what} is not allowed: the platform chooses the warehouse and role of this account's \
                     Snowflake sessions; remove the statement (an account admin sets them with \
                     `komodo-server admin set-warehouse`)"
                )));
            }
            return Ok(());
        }
        "ALTER" if upper(1) == "SESSION" => return check_alter_session(&words[2..]),
        "EXECUTE" if upper(1) == "IMMEDIATE" => {
            return Err(access(
                "EXECUTE IMMEDIATE is not allowed through the Komodo gateway: run the statement itself".into(),
            ));
        }
        "DECLARE" => {
            return Err(access(
                "Snowflake Scripting blocks are not allowed through the Komodo gateway: run their statements one \
                 by one"
                    .into(),
            ));
        }
        "BEGIN" | "START" => {
            let next = upper(1);
            if first == "BEGIN" && !matches!(next.as_str(), "" | "TRANSACTION" | "WORK" | "NAME") {
                return Err(access(
                    "Snowflake Scripting blocks are not allowed through the Komodo gateway: run their statements \
                     one by one"
                        .into(),
                ));
            }
            return Ok(());
        }
        _ => {}
    }
    if read_only && !READ_STATEMENTS.contains(&first.as_str()) {
        return Err(access(format!(
            "Insufficient privileges: your role in this Komodo account only reads data, and {first} is not a \
             query; ask an account admin for the member role"
        )));
    }
    Ok(())
}

/// What a `reader` may run.
const READ_STATEMENTS: &[&str] =
    &["SELECT", "WITH", "(", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "COMMIT", "ROLLBACK", "VALUES", "LIST", "LS"];

/// `ALTER SESSION SET a = x, b = y` / `ALTER SESSION UNSET a, b`: every
/// name on the allow-list.
fn check_alter_session(rest: &[Word]) -> Result<(), Refused> {
    let Some(verb) = rest.first() else { return Ok(()) };
    let verb = verb.text.to_ascii_uppercase();
    let names: Vec<&Word> = match verb.as_str() {
        // The word before each `=`.
        "SET" => rest.windows(2).filter(|w| w[1].text == "=").map(|w| &w[0]).collect(),
        // Every name, between the commas.
        "UNSET" => rest[1..].iter().filter(|w| w.text != ",").collect(),
        _ => return Err(access(format!("ALTER SESSION {verb} is not allowed through the Komodo gateway"))),
    };
    if verb == "SET" && names.is_empty() {
        return Err(access("ALTER SESSION SET needs `name = value`".into()));
    }
    for name in names {
        if name.quoted || !is_allowed(&name.text) {
            return Err(access(format!(
                "The session parameter {} is the platform's to set; the gateway allows {}",
                name.text.to_ascii_uppercase(),
                ALLOWED_PARAMETERS.join(", ")
            )));
        }
    }
    Ok(())
}

/// The parameters a statement is forwarded with: the client's, all on the
/// allow-list (those of the gateway's own dropped), then the platform's
/// `QUERY_TAG` and statement time limit (the client's own limit kept when
/// shorter).
pub fn statement_parameters(
    client: &Map<String, Value>,
    tag: &str,
    timeout_s: u64,
) -> Result<Map<String, Value>, Refused> {
    let mut out = Map::new();
    let mut timeout = timeout_s;
    for (name, value) in client {
        let upper = name.to_ascii_uppercase();
        if GATEWAY_PARAMETERS.contains(&upper.as_str()) {
            continue;
        }
        if upper == "STATEMENT_TIMEOUT_IN_SECONDS" {
            let asked = value.as_u64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            if let Some(asked) = asked.filter(|a| *a > 0) {
                timeout = timeout.min(asked);
            }
            continue;
        }
        if !is_allowed(&upper) {
            return Err(Refused {
                code: "002049",
                sql_state: "22023",
                message: format!(
                    "The statement parameter {upper} is the platform's to set; the gateway allows {} and \
                     STATEMENT_TIMEOUT_IN_SECONDS (up to the platform's limit)",
                    ALLOWED_PARAMETERS.join(", ")
                ),
            });
        }
        out.insert(upper, value.clone());
    }
    out.insert("QUERY_TAG".into(), Value::String(tag.to_owned()));
    out.insert("STATEMENT_TIMEOUT_IN_SECONDS".into(), Value::from(timeout));
    Ok(out)
}

/// The session parameters of a client's login that reach the upstream
/// login: the allowed ones; others are left to the upstream's defaults.
pub fn login_parameters(client: Option<&Map<String, Value>>) -> Map<String, Value> {
    client
        .into_iter()
        .flatten()
        .filter(|(name, _)| is_allowed(name))
        .map(|(name, value)| (name.to_ascii_uppercase(), value.clone()))
        .collect()
}

/// The `QUERY_TAG` of a statement: JSON naming the Komodo principal
/// (`user:<id>` or `sp:<id>`), the gateway's query id and the client's
/// request id, so that the upstream's query history shows who ran what
/// (`TRY_PARSE_JSON(QUERY_TAG):komodo_principal`).
pub fn query_tag(principal: &str, query_id: &str, request_id: Option<&str>) -> String {
    serde_json::json!({
        "komodo_principal": principal,
        "komodo_query_id": query_id,
        "komodo_request_id": request_id,
    })
    .to_string()
}

/// A word of a statement: a keyword or name (unquoted, as written), a
/// quoted identifier (without its quotes), or one punctuation character;
/// string literals and comments are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    quoted: bool,
}

/// The words of each statement of `sql` (split at semicolons outside
/// strings, identifiers and comments).
fn statements(sql: &str) -> Vec<Vec<Word>> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = vec![Vec::new()];
    let mut i = 0;
    let push = |out: &mut Vec<Vec<Word>>, text: String, quoted: bool| {
        if let Some(last) = out.last_mut() {
            last.push(Word { text, quoted });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            _ if c.is_whitespace() => i += 1,
            '-' if next == Some('-') => i = skip_line(&chars, i),
            '/' if next == Some('/') => i = skip_line(&chars, i),
            '/' if next == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            '\'' => {
                i += 1;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => i += 2,
                        '\'' if chars.get(i + 1) == Some(&'\'') => i += 2,
                        '\'' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                push(&mut out, "'".into(), false);
            }
            '$' if next == Some('$') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '$' && chars.get(i + 1) == Some(&'$')) {
                    i += 1;
                }
                i += 2;
                push(&mut out, "'".into(), false);
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                while i < chars.len() {
                    if chars[i] == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            text.push('"');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
                push(&mut out, text, true);
            }
            ';' => {
                out.push(Vec::new());
                i += 1;
            }
            _ if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.')) {
                    i += 1;
                }
                push(&mut out, chars[start..i].iter().collect(), false);
            }
            _ => {
                push(&mut out, c.to_string(), false);
                i += 1;
            }
        }
    }
    out.retain(|words| !words.is_empty());
    out
}

fn skip_line(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> bool {
        check_statement(sql, false).is_err()
    }

    #[test]
    fn warehouse_role_and_secondary_roles_are_the_platforms() {
        for sql in [
            "use warehouse big_wh",
            "USE ROLE accountadmin",
            "use secondary roles all",
            "select 1; use role sysadmin",
            "/* hi */ -- there\n  Use\n Role x",
            "select 'a;b'; use role x",
            "execute immediate 'use role x'",
            "begin use role x; end",
            "declare c int; begin return 1; end",
        ] {
            assert!(refused(sql), "{sql}");
        }
        for sql in [
            "use database analytics",
            "use schema public",
            "use analytics.public",
            "select 'use role x'",
            "select 1 -- ; use role x",
            "select $$ ; use role x $$",
            "select \"use\"; select 2",
            "begin",
            "begin transaction",
            "commit",
            "",
        ] {
            assert!(!refused(sql), "{sql}");
        }
    }

    #[test]
    fn alter_session_is_limited_to_the_allow_list() {
        assert!(!refused("alter session set timezone = 'UTC', date_output_format = 'YYYY'"));
        assert!(!refused("ALTER SESSION UNSET TIMEZONE, WEEK_START"));
        assert!(!refused("alter session set autocommit = false"));
        for sql in [
            "alter session set query_tag = 'someone else'",
            "alter session set timezone = 'UTC', statement_timeout_in_seconds = 0",
            "alter session unset query_tag",
            "alter session set \"TIMEZONE\" = 'UTC'",
            "alter session set",
        ] {
            assert!(refused(sql), "{sql}");
        }
        let err = check_statement("alter session set query_tag = 'x'", false).unwrap_err();
        assert_eq!((err.code, err.sql_state), ("003001", "42501"));
        assert!(err.message.contains("QUERY_TAG"), "{}", err.message);
    }

    #[test]
    fn readers_only_read() {
        for sql in ["select 1", "with a as (select 1) select * from a", "show tables", "describe table t", "use db"] {
            assert!(check_statement(sql, true).is_ok(), "{sql}");
        }
        for sql in ["insert into t values (1)", "select 1; delete from t", "create table t (a int)", "call p()"] {
            assert!(check_statement(sql, true).is_err(), "{sql}");
        }
    }

    #[test]
    fn statements_carry_the_platforms_tag_and_time_limit() {
        let mut client = Map::new();
        client.insert("QUERY_RESULT_FORMAT".into(), Value::from("ARROW"));
        client.insert("komodo_result_stream".into(), Value::from(true));
        client.insert("statement_timeout_in_seconds".into(), Value::from(30));
        let tag = query_tag("user:u1", "q1", Some("r1"));
        let out = statement_parameters(&client, &tag, 300).unwrap();
        assert_eq!(out["QUERY_RESULT_FORMAT"], "ARROW");
        assert_eq!(out["STATEMENT_TIMEOUT_IN_SECONDS"], 30);
        assert_eq!(out["QUERY_TAG"], tag.as_str());
        assert!(!out.keys().any(|k| k.eq_ignore_ascii_case(komodo_protocol::result_stream::RESULT_STREAM)));
        let longer = Map::from_iter([("STATEMENT_TIMEOUT_IN_SECONDS".to_owned(), Value::from(0))]);
        assert_eq!(statement_parameters(&longer, &tag, 300).unwrap()["STATEMENT_TIMEOUT_IN_SECONDS"], 300);
        let tagged = Map::from_iter([("QUERY_TAG".to_owned(), Value::from("me"))]);
        assert_eq!(statement_parameters(&tagged, &tag, 300).unwrap_err().code, "002049");
        let parsed: Value = serde_json::from_str(&tag).unwrap();
        assert_eq!(parsed["komodo_principal"], "user:u1");
        assert_eq!(parsed["komodo_request_id"], "r1");
    }
}
