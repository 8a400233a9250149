//! A gateway failure: Snowflake's error code, a message, a SQLSTATE and the
//! query it concerns. The gateway answers it in Snowflake's envelope
//! ([`crate::gateway::wire`]); a finished statement's failure is one too.

use komodo_protocol::gateway::codes;

/// A gateway failure, answered as `{"success": false, "code", "message", "data"}`.
#[derive(Debug, Clone)]
pub struct GwError {
    /// Snowflake's code (a numeric string).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// SQLSTATE, when there is one.
    pub sql_state: Option<&'static str>,
    /// The query it concerns.
    pub query_id: Option<String>,
}

impl GwError {
    /// A failure with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), sql_state: None, query_id: None }
    }

    /// With a SQLSTATE.
    pub fn state(mut self, sql_state: &'static str) -> Self {
        self.sql_state = Some(sql_state);
        self
    }

    /// About query `id`.
    pub fn query(mut self, id: impl Into<String>) -> Self {
        self.query_id = Some(id.into());
        self
    }

    /// A malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(codes::BAD_REQUEST, message).state("08P01")
    }

    /// The caller may not use the account (or it does not exist: the two
    /// are indistinguishable, T01).
    pub fn no_access() -> Self {
        Self::new(
            codes::AUTHENTICATION_FAILED,
            "You do not have access to this account. Check the account id, or ask an account admin to add you.",
        )
        .state("28000")
    }

    /// The session is unknown or closed.
    pub fn session_gone() -> Self {
        Self::new(codes::SESSION_GONE, "Session no longer exists. New login required to access the service.")
            .state("08003")
    }

    /// The store or another internal part failed; details go to the log.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "gateway request failed");
        Self::new("000603", "Internal error processing the request; the platform's log has the details.").state("XX000")
    }
}

impl From<crate::store::StoreError> for GwError {
    fn from(error: crate::store::StoreError) -> Self {
        GwError::internal(error)
    }
}

impl From<komodo_warehouse::WarehouseError> for GwError {
    fn from(error: komodo_warehouse::WarehouseError) -> Self {
        GwError { code: error.code(), message: error.to_string(), sql_state: Some(error.sql_state()), query_id: None }
    }
}
