//! What identifies a statement and where it stands: [`QueryId`] and
//! [`QueryStatus`], as the gateway's monitoring calls report them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::error::InterfaceError;

/// A statement's id, as the gateway hands it out (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryId(String);

impl QueryId {
    /// Checks that `id` looks like a query id (letters, digits and dashes),
    /// so that it can go into a URL path as it is.
    pub fn new(id: impl Into<String>) -> Result<Self, InterfaceError> {
        let id = id.into();
        let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid { Ok(Self(id)) } else { Err(InterfaceError::InvalidQueryId(id)) }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QueryId {
    type Err = InterfaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Where a statement stands, as `GET /monitoring/queries/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryStatus {
    /// Waiting to run.
    Queued,
    /// Running.
    Running,
    /// Finished; its result can be fetched.
    Success,
    /// Failed.
    FailedWithError,
    /// Being cancelled.
    Aborting,
    /// Cancelled.
    Aborted,
    /// The gateway knows nothing about it (yet).
    NoData,
    /// Another of Snowflake's statuses (`BLOCKED`, `RESUMING_WAREHOUSE`, ...).
    Other(String),
}

impl QueryStatus {
    /// Whether the statement has not finished yet (as the connectors'
    /// `is_still_running`).
    pub fn is_still_running(&self) -> bool {
        match self {
            QueryStatus::Queued | QueryStatus::Running | QueryStatus::NoData => true,
            QueryStatus::Other(s) => {
                matches!(s.as_str(), "RESUMING_WAREHOUSE" | "QUEUED_REPARING_WAREHOUSE" | "BLOCKED")
            }
            _ => false,
        }
    }

    /// Whether the statement failed or was cancelled (as the connectors'
    /// `is_an_error`).
    pub fn is_error(&self) -> bool {
        match self {
            QueryStatus::FailedWithError | QueryStatus::Aborting | QueryStatus::Aborted => true,
            QueryStatus::Other(s) => matches!(s.as_str(), "FAILED_WITH_INCIDENT" | "DISCONNECTED"),
            _ => false,
        }
    }
}

impl FromStr for QueryStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "QUEUED" => QueryStatus::Queued,
            "RUNNING" => QueryStatus::Running,
            "SUCCESS" => QueryStatus::Success,
            "FAILED_WITH_ERROR" => QueryStatus::FailedWithError,
            "ABORTING" => QueryStatus::Aborting,
            "ABORTED" => QueryStatus::Aborted,
            "NO_DATA" => QueryStatus::NoData,
            other => QueryStatus::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryStatus::Queued => "QUEUED",
            QueryStatus::Running => "RUNNING",
            QueryStatus::Success => "SUCCESS",
            QueryStatus::FailedWithError => "FAILED_WITH_ERROR",
            QueryStatus::Aborting => "ABORTING",
            QueryStatus::Aborted => "ABORTED",
            QueryStatus::NoData => "NO_DATA",
            QueryStatus::Other(s) => s,
        })
    }
}

/// How long to wait before polling again after a poll that came back
/// at once (the gateway long-polls, so this only matters for gateways that
/// do not): 50 ms, doubling up to 1 s.
pub(crate) fn poll_backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(5)).min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_are_safe_in_paths() {
        assert_eq!(QueryId::new("01b5f0a2-0000-4a3b-0000-00000000000a").unwrap().as_str().len(), 36);
        for bad in ["", "../session", "a b", "x?y", "é"] {
            assert!(matches!(QueryId::new(bad), Err(InterfaceError::InvalidQueryId(_))), "{bad}");
        }
        assert!("abc-1".parse::<QueryId>().is_ok());
    }

    #[test]
    fn statuses_follow_the_connectors() {
        let parse = |s: &str| QueryStatus::from_str(s).unwrap();
        assert!(parse("RUNNING").is_still_running() && !parse("RUNNING").is_error());
        assert!(parse("QUEUED").is_still_running());
        assert!(parse("BLOCKED").is_still_running());
        assert!(parse("ABORTED").is_error() && !parse("ABORTED").is_still_running());
        assert!(parse("FAILED_WITH_ERROR").is_error());
        assert!(parse("FAILED_WITH_INCIDENT").is_error());
        assert!(!parse("SUCCESS").is_error() && !parse("SUCCESS").is_still_running());
        assert_eq!(parse("RESTARTED").to_string(), "RESTARTED");
        assert_eq!(parse("SUCCESS").to_string(), "SUCCESS");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(poll_backoff(0), Duration::from_millis(50));
        assert_eq!(poll_backoff(1), Duration::from_millis(100));
        assert_eq!(poll_backoff(30), Duration::from_secs(1));
    }
}
