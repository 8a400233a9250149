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
