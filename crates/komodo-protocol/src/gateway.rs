//! The connector gateway's wire types: the subset of Snowflake's REST
//! protocol that the official connectors speak, with Snowflake's exact
//! field names (`camelCase` where Snowflake uses it).

use serde::{Deserialize, Serialize};

/// Every gateway response: `{"data": ..., "code": ..., "message": ..., "success": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload (on errors, details such as the query id).
    #[serde(default = "Option::default")]
    pub data: Option<T>,
    /// Snowflake's error or status code (`"390100"`, `"002003"`, `"333334"`), `null` on success.
    #[serde(default)]
    pub code: Option<String>,
    /// A human-readable message, `null` on success.
    #[serde(default)]
    pub message: Option<String>,
    /// Whether the request succeeded.
    pub success: bool,
}

impl<T> Envelope<T> {
    /// A successful response carrying `data`.
    pub fn ok(data: T) -> Self {
        Self { data: Some(data), code: None, message: None, success: true }
    }
}

/// The description of one result column, as Snowflake's `rowtype` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowType {
    /// The column's name.
    pub name: String,
    /// The database of the column's table, if any.
    #[serde(default)]
    pub database: String,
    /// The schema of the column's table, if any.
    #[serde(default)]
    pub schema: String,
    /// The column's table, if any.
    #[serde(default)]
    pub table: String,
    /// Snowflake's type name in lower case: `fixed`, `real`, `text`, `date`,
    /// `time`, `timestamp_ntz`, `timestamp_ltz`, `timestamp_tz`, `boolean`,
    /// `binary`, `variant`, `object`, `array`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
    /// The maximum length in characters of a `text` column.
    #[serde(default)]
    pub length: Option<i64>,
    /// The precision of a `fixed` column.
    #[serde(default)]
    pub precision: Option<i64>,
    /// The scale of a `fixed` or time column.
    #[serde(default)]
    pub scale: Option<i64>,
    /// The maximum length in bytes of a `text` or `binary` column.
    #[serde(default)]
    pub byte_length: Option<i64>,
    /// The collation, if any.
    #[serde(default)]
    pub collation: Option<String>,
}

/// The header that carries the account id when a client authenticates each
/// request with `Authorization: Bearer <Komodo access token>` instead of a
/// session token (how the existing Komodo clients call the gateway).
pub use crate::iam::ACCOUNT_ID_HEADER;

/// Status codes of the gateway that are not errors.
pub mod codes {
    /// A synchronous query is still running: poll `getResultUrl`.
    pub const QUERY_IN_PROGRESS: &str = "333333";
    /// An asynchronous query was accepted: monitor it by its query id.
    pub const QUERY_IN_PROGRESS_ASYNC: &str = "333334";
    /// The login was refused: bad, expired or revoked access token.
    pub const INVALID_OAUTH_TOKEN: &str = "390303";
    /// The login was refused: the access token expired.
    pub const OAUTH_TOKEN_EXPIRED: &str = "390318";
    /// Authentication failed, or the caller has no right to the account.
    pub const AUTHENTICATION_FAILED: &str = "390100";
    /// The session no longer exists (closed or unknown).
    pub const SESSION_GONE: &str = "390111";
    /// The session token expired: renew it with the master token.
    pub const SESSION_EXPIRED: &str = "390112";
    /// The master token expired: log in again.
    pub const MASTER_TOKEN_EXPIRED: &str = "390114";
    /// The master token is not valid.
    pub const MASTER_TOKEN_INVALID: &str = "390115";
    /// A request was malformed.
    pub const BAD_REQUEST: &str = "390400";
    /// The statement was cancelled.
    pub const CANCELLED: &str = "000604";
    /// The statement reached its time limit.
    pub const TIMEOUT: &str = "000630";
    /// SQL compilation error.
    pub const COMPILATION: &str = "001003";
    /// The object does not exist or is not authorized.
    pub const OBJECT_NOT_FOUND: &str = "002003";
    /// Generic SQL execution error.
    pub const EXECUTION: &str = "100000";
}

/// `POST /session/v1/login-request`: `{"data": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The login fields.
    pub data: LoginRequestData,
}

/// The fields of a login request, with Snowflake's UPPER_SNAKE names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct LoginRequestData {
    /// The Komodo account id (UUID) or slug.
    #[serde(default)]
    pub account_name: String,
    /// Ignored (the identity comes from the token); connectors send `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_name: Option<String>,
    /// `OAUTH` (the only authenticator the gateway accepts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator: Option<String>,
    /// The Komodo access token (with `AUTHENTICATOR=OAUTH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<crate::secret::AccessToken>,
    /// The client's name, e.g. `PythonConnector` or `KomodoRust`.
    #[serde(default, rename = "CLIENT_APP_ID", skip_serializing_if = "Option::is_none")]
    pub client_app_id: Option<String>,
    /// The client's version.
    #[serde(default, rename = "CLIENT_APP_VERSION", skip_serializing_if = "Option::is_none")]
    pub client_app_version: Option<String>,
    /// Session parameters the client asks for (opaque to the gateway
    /// except for the ones it knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// Opaque client environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_environment: Option<serde_json::Value>,
}

/// Query parameters of the login request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginQuery {
    /// The session's initial database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// The session's initial schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
    /// A warehouse; the embedded warehouse has none, so any value is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// A role; ignored (access comes from the account membership).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

/// One `{"name", "value"}` session parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameValue {
    /// The parameter's name.
    pub name: String,
    /// Its value (JSON booleans and numbers, never strings for them).
    pub value: serde_json::Value,
}

/// The session's current context, as the login response reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The current database.
    pub database_name: Option<String>,
    /// The current schema.
    pub schema_name: Option<String>,
    /// Always `null`: the embedded warehouse has no virtual warehouses.
    pub warehouse_name: Option<String>,
    /// The caller's role in the account (`ADMIN`, `MEMBER`, `SERVICE_PRINCIPAL`).
    pub role_name: Option<String>,
}

/// The `data` of a successful login.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponseData {
    /// The session token (`Authorization: Snowflake Token="..."`).
    pub token: crate::secret::SessionToken,
    /// The master token, which renews the session token.
    pub master_token: crate::secret::SessionToken,
    /// Seconds the session token is valid.
    pub validity_in_seconds: u64,
    /// Seconds the master token is valid.
    pub master_validity_in_seconds: u64,
    /// A numeric session id.
    pub session_id: i64,
    /// The server's version.
    #[serde(default)]
    pub server_version: Option<String>,
    /// The session's context.
    #[serde(default)]
    pub session_info: Option<SessionInfo>,
    /// Session parameters.
    #[serde(default)]
    pub parameters: Vec<NameValue>,
}

impl std::fmt::Debug for LoginResponseData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponseData")
            .field("validity_in_seconds", &self.validity_in_seconds)
            .field("master_validity_in_seconds", &self.master_validity_in_seconds)
            .field("session_id", &self.session_id)
            .field("session_info", &self.session_info)
            .finish_non_exhaustive()
    }
}

/// One bound parameter: `{"type": "FIXED", "value": "42"}`; `value` is a
/// string (or an array of strings for array binding), `null` for NULL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// Snowflake's type name: `ANY`, `FIXED`, `REAL`, `TEXT`, `BOOLEAN`,
    /// `BINARY`, `DATE`, `TIME`, `TIMESTAMP_NTZ`, `TIMESTAMP_LTZ`, `TIMESTAMP_TZ`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The value as Snowflake's connectors encode it.
    pub value: serde_json::Value,
}

/// `POST /queries/v1/query-request?requestId=<uuid>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    /// The statement.
    pub sql_text: String,
    /// Submit and return at once with a query id (`333334`).
    #[serde(default)]
    pub async_exec: bool,
    /// Increments per statement on a connection.
    #[serde(default)]
    pub sequence_id: u64,
    /// Milliseconds since the epoch when the client submitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_submission_time: Option<i64>,
    /// Positional bindings keyed `"1"`, `"2"`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindings: Option<std::collections::BTreeMap<String, Binding>>,
    /// Statement parameters. `QUERY_RESULT_FORMAT: "ARROW"` asks for Arrow
    /// results (the Komodo clients); anything else gets Snowflake's JSON rowset.
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Only return the result's description.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub describe_only: bool,
}

/// The statement parameter that selects the result encoding.
pub const QUERY_RESULT_FORMAT: &str = "QUERY_RESULT_FORMAT";

/// A further chunk of a large result, fetched with a plain `GET url` and
/// the response's `chunkHeaders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    /// Absolute URL of the chunk on the gateway.
    pub url: String,
    /// Rows in the chunk.
    pub row_count: u64,
    /// Size of the body in bytes.
    #[serde(default)]
    pub uncompressed_size: u64,
    /// Size on the wire (the same for the embedded warehouse's chunks;
    /// Snowflake's are compressed).
    #[serde(default)]
    pub compressed_size: u64,
}

/// The `data` of a query response (success, in progress or error).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResponseData {
    /// The query's id (a UUID).
    #[serde(default)]
    pub query_id: Option<String>,
    /// Column descriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rowtype: Option<Vec<RowType>>,
    /// The first rows, each value a string or null (JSON format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rowset: Option<Vec<Vec<Option<String>>>>,
    /// The first rows as a base64 Arrow IPC stream (Arrow format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rowset_base64: Option<String>,
    /// Rows across the rowset and every chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Rows in the rowset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<u64>,
    /// `json` or `arrow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_result_format: Option<String>,
    /// Snowflake's statement type id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_type_id: Option<i64>,
    /// SQLSTATE (`00000` on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    /// Further chunks of a large result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<Chunk>,
    /// Headers to send with every chunk request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_headers: Option<std::collections::BTreeMap<String, String>>,
    /// The session's database after the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_database_name: Option<String>,
    /// The session's schema after the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_schema_name: Option<String>,
    /// Where to poll while the query runs (`333333`/`333334`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_result_url: Option<String>,
    /// Seconds before an async query is stopped (`333334`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_aborts_after_secs: Option<u64>,
    /// The error code again (errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Extra error detail (errors); appended to the message by connectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `POST /queries/v1/abort-request`: cancels the query submitted with `requestId`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortRequest {
    /// The statement (informational).
    #[serde(default)]
    pub sql_text: String,
    /// The `requestId` of the query-request to cancel.
    pub request_id: String,
}

/// The `data` of `GET /monitoring/queries/{queryId}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitoringData {
    /// Zero or one entry.
    pub queries: Vec<QueryStatusEntry>,
}

/// One query's status.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryStatusEntry {
    /// The query id.
    pub id: String,
    /// `QUEUED`, `RUNNING`, `SUCCESS`, `FAILED_WITH_ERROR`, `ABORTING`, `ABORTED`.
    pub status: String,
    /// The SQL text.
    #[serde(default)]
    pub sql_text: String,
    /// The error code (numeric string), `""` on success.
    #[serde(default)]
    pub error_code: String,
    /// The error message, `""` on success.
    #[serde(default)]
    pub error_message: String,
    /// Start time, milliseconds since the epoch.
    #[serde(default)]
    pub start_time: i64,
    /// End time, milliseconds since the epoch (0 while running).
    #[serde(default)]
    pub end_time: i64,
}

/// `POST /session/token-request` (with the master token).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// The session token to replace.
    pub old_session_token: crate::secret::SessionToken,
    /// `RENEW`.
    pub request_type: String,
}

/// The `data` of a token renewal.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponseData {
    /// The new session token.
    pub session_token: crate::secret::SessionToken,
    /// Its validity in seconds.
    pub validity_in_seconds_s_t: u64,
    /// The master token (unchanged).
    pub master_token: crate::secret::SessionToken,
    /// The master token's remaining validity in seconds.
    pub validity_in_seconds_m_t: u64,
    /// The same, under the name the Python connector reads.
    pub master_validity_in_seconds: u64,
    /// The numeric session id.
    pub session_id: i64,
}

impl std::fmt::Debug for TokenResponseData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponseData")
            .field("validity_in_seconds_s_t", &self.validity_in_seconds_s_t)
            .field("validity_in_seconds_m_t", &self.validity_in_seconds_m_t)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}
