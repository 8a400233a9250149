//! What a warehouse call can fail with: an error the warehouse reported
//! (with Snowflake's code), trouble reaching the gateway, or a misuse of
//! the connection or cursor.

use std::fmt;

use komodo_protocol::gateway::codes;

/// An error the gateway reported for a statement, a login or a session,
/// with Snowflake's error code and SQLSTATE.
///
/// Its `Display` follows Snowflake's connectors:
/// `002003 (42S02): SQL compilation error: Object 'FOO' does not exist or not authorized.`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct WarehouseError {
    /// Snowflake's error code, a numeric string (`"001003"`, `"000604"`,
    /// `"390100"`); empty when the gateway sent none.
    pub code: String,
    /// The SQLSTATE (`"42S02"`), when the gateway sent one.
    pub sql_state: Option<String>,
    /// The gateway's explanation.
    pub message: String,
    /// The id of the statement that failed, when there was one.
    pub query_id: Option<String>,
}

impl fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), &self.sql_state) {
            (true, _) => f.write_str(&self.message),
            (false, Some(state)) => write!(f, "{} ({state}): {}", self.code, self.message),
            (false, None) => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl WarehouseError {
    /// An error with `code` and `message` and nothing else.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), sql_state: None, message: message.into(), query_id: None }
    }

    /// Builds the error of a `success: false` envelope: the code and
    /// message, plus `queryId`, `sqlState` and `errorMessage` from `data`.
    pub(crate) fn from_envelope(
        code: Option<&str>,
        message: Option<&str>,
        data: Option<&serde_json::Value>,
        fallback: &str,
    ) -> Self {
        let field = |name: &str| data.and_then(|d| d.get(name)).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        let code = code.or_else(|| field("errorCode")).unwrap_or_default().to_owned();
        let mut message = message.filter(|m| !m.is_empty()).unwrap_or(fallback).to_owned();
        // Connectors append `data.errorMessage`: the gateway puts details there.
        if let Some(extra) = field("errorMessage")
            && !message.contains(extra)
        {
            message = format!("{message} {extra}");
        }
        Self {
            code,
            sql_state: field("sqlState").map(str::to_owned),
            message,
            query_id: field("queryId").map(str::to_owned),
        }
    }

    /// Whether the statement was cancelled (code `000604`).
    pub fn is_cancelled(&self) -> bool {
        self.code == codes::CANCELLED
    }

    /// Whether the statement reached its time limit (code `000630`).
    pub fn is_timeout(&self) -> bool {
        self.code == codes::TIMEOUT
    }

    /// Whether the gateway refused the access token at login (invalid or
    /// expired: codes `390303`, `390318`); logging in again fixes it.
    pub fn is_token_rejected(&self) -> bool {
        self.code == codes::INVALID_OAUTH_TOKEN || self.code == codes::OAUTH_TOKEN_EXPIRED
    }

    /// Whether the caller has no right to the account (code `390100`).
    pub fn is_access_denied(&self) -> bool {
        self.code == codes::AUTHENTICATION_FAILED
    }
}

/// Trouble talking to the gateway, as opposed to an error it reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The gateway could not be reached, or the connection broke.
    #[error("cannot reach the warehouse gateway ({endpoint}): {reason}")]
    Unavailable {
        /// The request, as `METHOD /path` (never with its query string).
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The gateway answered with an HTTP status other than 200.
    #[error("the warehouse gateway answered HTTP {status} to {endpoint}{}", http_advice(*status))]
    Http {
        /// The HTTP status.
        status: u16,
        /// The request, as `METHOD /path`.
        endpoint: String,
    },
    /// A further part (chunk) of a large result could not be downloaded.
    #[error(
        "cannot download part {part} of the result (HTTP {status}); results are kept for a limited time, \
         so run the statement again"
    )]
    Chunk {
        /// The part, counting from 1 after the rows that came with the response.
        part: usize,
        /// The HTTP status.
        status: u16,
    },
    /// The gateway answered something this client does not understand.
    #[error("unexpected answer from the warehouse gateway to {endpoint}: {reason}")]
    Protocol {
        /// The request, as `METHOD /path`.
        endpoint: String,
        /// What is wrong with the answer.
        reason: String,
    },
}

/// What to do about an HTTP status from the gateway.
fn http_advice(status: u16) -> &'static str {
    match status {
        404 | 405 => "; check that KOMODO_API_URL names the Komodo platform",
        500..=599 => "; the platform is in trouble, try again later",
        _ => "",
    }
}

/// A connection or cursor used in a way that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InterfaceError {
    /// The connection was closed.
    #[error("the warehouse connection is closed; open a new one with `get_snowflake_connection()`")]
    Closed,
    /// A fetch on a cursor that has no result.
    #[error("no result to fetch: execute a statement first")]
    NoResult,
    /// An Arrow fetch on a result that came as JSON rows.
    #[error("the result is not in Arrow format; use fetchone, fetchmany or fetchall")]
    NotArrow,
    /// A query id that is not one.
    #[error("{0:?} is not a query id (expected a UUID such as 01b5f0a2-0000-4a3b-0000-00000000000a)")]
    InvalidQueryId(String),
    /// A result column of a type this client cannot convert to values.
    #[error(
        "column {column:?} has type {data_type}, which cannot be converted to a value; fetch it with fetch_arrow_batches"
    )]
    UnsupportedType {
        /// The column's name.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// A value in the result that does not decode.
    #[error("column {column:?}: {reason}")]
    BadValue {
        /// The column's name.
        column: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `PUT` or `GET` cannot move its files (what to do instead).
    #[error("{0}")]
    Transfer(String),
    /// A file to load, send or write cannot be read or written.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_errors_carry_code_state_and_query_id() {
        let data = json!({"queryId": "01b5", "sqlState": "42S02", "errorCode": "002003"});
        let err = WarehouseError::from_envelope(
            Some("002003"),
            Some("SQL compilation error:\nObject 'FOO' does not exist or not authorized."),
            Some(&data),
            "failed",
        );
        assert_eq!(err.code, "002003");
        assert_eq!(err.sql_state.as_deref(), Some("42S02"));
        assert_eq!(err.query_id.as_deref(), Some("01b5"));
        assert_eq!(
            err.to_string(),
            "002003 (42S02): SQL compilation error:\nObject 'FOO' does not exist or not authorized."
        );
        assert!(!err.is_cancelled() && !err.is_timeout());
    }

    #[test]
    fn missing_fields_fall_back() {
        let err = WarehouseError::from_envelope(None, None, None, "the login failed");
        assert_eq!(err.to_string(), "the login failed");
        let data = json!({"errorCode": "000604", "errorMessage": "by the user"});
        let err = WarehouseError::from_envelope(None, Some("SQL execution canceled"), Some(&data), "x");
        assert!(err.is_cancelled());
        assert_eq!(err.to_string(), "000604: SQL execution canceled by the user");
        assert!(WarehouseError::new("000630", "too slow").is_timeout());
        assert!(WarehouseError::new("390318", "expired").is_token_rejected());
        assert!(WarehouseError::new("390100", "no").is_access_denied());
    }

    #[test]
    fn gateway_errors_say_what_to_do() {
        let http =
            |status| GatewayError::Http { status, endpoint: "POST /session/v1/login-request".into() }.to_string();
        assert!(http(404).ends_with("check that KOMODO_API_URL names the Komodo platform"), "{}", http(404));
        assert!(http(503).ends_with("try again later"), "{}", http(503));
        assert_eq!(http(418), "the warehouse gateway answered HTTP 418 to POST /session/v1/login-request");
        let chunk = GatewayError::Chunk { part: 3, status: 404 }.to_string();
        assert!(chunk.contains("part 3") && chunk.ends_with("run the statement again"), "{chunk}");
    }
}
