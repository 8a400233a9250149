//! The warehouse's one error type, each variant carrying Snowflake's error code.

use std::time::Duration;

/// Everything that can go wrong in the warehouse.
///
/// [`WarehouseError::code`] gives the Snowflake error code the gateway puts
/// in its envelope, so existing clients classify the failure as they would
/// against Snowflake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WarehouseError {
    /// The statement does not parse or does not plan.
    #[error("SQL compilation error:\n{0}")]
    Compilation(String),
    /// A table, schema or database that the statement names does not exist
    /// (or is not visible to this account).
    #[error("SQL compilation error:\nObject '{0}' does not exist or not authorized.")]
    ObjectNotFound(String),
    /// A column the statement names does not exist.
    #[error("SQL compilation error:\ninvalid identifier '{0}'")]
    InvalidIdentifier(String),
    /// A string that should be a number is not one.
    #[error("Numeric value '{0}' is not recognized")]
    NumericValueNotRecognized(String),
    /// The statement is valid SQL that this warehouse refuses (file or network
    /// access, changes to subscription data, unsupported commands).
    #[error("SQL access control error:\n{0}")]
    NotAllowed(String),
    /// The object named, and why it may not be changed: subscription data
    /// is read-only for everyone, and an account's `reader` role only reads.
    #[error("SQL access control error:\nInsufficient privileges to operate on {0}")]
    InsufficientPrivileges(String),
    /// `USE WAREHOUSE`: the embedded warehouse has no virtual warehouses.
    #[error(
        "USE WAREHOUSE is not supported: Komodo runs every statement on the account's own warehouse; remove the statement"
    )]
    UseWarehouse,
    /// A statement refers to the current database or schema and there is none.
    #[error(
        "Cannot perform {0}. This session does not have a current database. Call 'USE DATABASE', or use a qualified name."
    )]
    NoCurrentDatabase(String),
    /// A bind parameter is missing, of an unknown type or not parseable.
    #[error("Bind variable error: {0}")]
    Binding(String),
    /// The statement was cancelled (abort request).
    #[error("SQL execution canceled")]
    Cancelled,
    /// The statement ran longer than the statement time limit.
    #[error(
        "Statement reached its statement or warehouse timeout of {} second(s) and was canceled.",
        .0.as_secs()
    )]
    Timeout(Duration),
    /// The statement needed more memory than the session may use.
    #[error("Statement exceeded the session's memory limit: {0}")]
    MemoryLimit(String),
    /// A function would build a value larger than a value may be
    /// (Snowflake's largest `VARCHAR`).
    #[error("String is too long and would be truncated: a value of {bytes} bytes, at most {max} bytes are allowed")]
    ValueTooLong {
        /// The size the value would have had.
        bytes: usize,
        /// The largest value allowed.
        max: usize,
    },
    /// Text given as JSON is not JSON (or a path into JSON is malformed).
    #[error("Error parsing JSON: {0}")]
    InvalidJson(String),
    /// A value a function cannot take or make, with Snowflake's code for it
    /// (a date or timestamp not recognized, a number out of range, an
    /// invalid regular expression, ...).
    #[error("{message}")]
    InvalidValue {
        /// Snowflake's error code.
        code: &'static str,
        /// The SQLSTATE.
        sql_state: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A division by zero (`DIV0` answers 0 instead).
    #[error("Division by zero")]
    DivisionByZero,
    /// The session does not exist, was closed, or belongs to another account.
    #[error("Session does not exist or is not authorized")]
    SessionNotFound,
    /// An object of that name already exists (Snowflake's 002002).
    #[error("SQL compilation error:\nObject '{0}' already exists.")]
    AlreadyExists(String),
    /// A write lost to a concurrent write of the same table (its commit
    /// conflicts with one that got in first); nothing of it was kept.
    #[error(
        "Statement aborted because a concurrent statement changed the same table first; nothing was written. Run it again. ({0})"
    )]
    Conflict(String),
    /// A runtime failure while executing the statement (division by zero, a
    /// failed cast, ...).
    #[error("{0}")]
    Execution(String),
    /// A file given to load cannot be read in the format it was said to
    /// have (empty, malformed, not that format).
    #[error("The file cannot be loaded: {0}")]
    InvalidFile(String),
    /// Reading or writing the warehouse directory failed.
    #[error("warehouse storage error at {path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An internal DataFusion or Arrow error that fits no other variant.
    #[error("internal warehouse error: {0}")]
    Internal(String),
}

impl WarehouseError {
    /// Snowflake's error code for this error, as the gateway reports it
    /// (`"001003"`, `"002003"`, `"000604"`, `"000630"`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            WarehouseError::Compilation(_) | WarehouseError::NoCurrentDatabase(_) => "001003",
            WarehouseError::ObjectNotFound(_) => "002003",
            WarehouseError::InvalidIdentifier(_) => "000904",
            WarehouseError::AlreadyExists(_) => "002002",
            WarehouseError::Conflict(_) => "000625",
            WarehouseError::NumericValueNotRecognized(_) => "100038",
            WarehouseError::NotAllowed(_) | WarehouseError::InsufficientPrivileges(_) => "003001",
            WarehouseError::UseWarehouse => "000606",
            WarehouseError::Binding(_) => "002049",
            WarehouseError::Cancelled => "000604",
            WarehouseError::Timeout(_) => "000630",
            WarehouseError::MemoryLimit(_) => "000625",
            WarehouseError::ValueTooLong { .. } => "100078",
            WarehouseError::DivisionByZero => "100051",
            WarehouseError::InvalidJson(_) => "100069",
            WarehouseError::InvalidValue { code, .. } => code,
            WarehouseError::SessionNotFound => "390111",
            WarehouseError::Execution(_) => "100038",
            WarehouseError::InvalidFile(_) => "100016",
            WarehouseError::Io { .. } | WarehouseError::Internal(_) => "000603",
        }
    }

    /// Snowflake's SQL state for this error (the `sqlState` field).
    pub fn sql_state(&self) -> &'static str {
        match self {
            WarehouseError::Compilation(_) | WarehouseError::NoCurrentDatabase(_) | WarehouseError::NotAllowed(_) => {
                "42000"
            }
            WarehouseError::ObjectNotFound(_) => "42S02",
            WarehouseError::InsufficientPrivileges(_) => "42501",
            WarehouseError::InvalidIdentifier(_) => "42000",
            WarehouseError::AlreadyExists(_) => "42710",
            WarehouseError::Conflict(_) => "57014",
            WarehouseError::NumericValueNotRecognized(_) => "22018",
            WarehouseError::Binding(_) => "22000",
            WarehouseError::Cancelled | WarehouseError::Timeout(_) => "57014",
            WarehouseError::SessionNotFound => "08003",
            WarehouseError::Execution(_) | WarehouseError::ValueTooLong { .. } => "22000",
            WarehouseError::MemoryLimit(_) => "53200",
            WarehouseError::DivisionByZero => "22012",
            WarehouseError::InvalidJson(_) | WarehouseError::InvalidFile(_) => "22000",
            WarehouseError::InvalidValue { sql_state, .. } => sql_state,
            _ => "XX000",
        }
    }

    /// A Delta Lake error in Snowflake's terms: a lost commit race is a
    /// [`WarehouseError::Conflict`].
    pub(crate) fn from_delta(e: deltalake_core::DeltaTableError) -> Self {
        use deltalake_core::DeltaTableError;
        use deltalake_core::kernel::transaction::TransactionError;
        match e {
            DeltaTableError::Transaction { source } => match source {
                TransactionError::CommitConflict(c) => WarehouseError::Conflict(c.to_string()),
                TransactionError::MaxCommitAttempts(n) => {
                    WarehouseError::Conflict(format!("the table kept changing through {n} attempts to commit"))
                }
                TransactionError::VersionAlreadyExists(v) => {
                    WarehouseError::Conflict(format!("another statement committed version {v} first"))
                }
                other => WarehouseError::Internal(format!("committing to the table failed: {other}")),
            },
            DeltaTableError::Arrow { source } => WarehouseError::Execution(source.to_string()),
            DeltaTableError::VersionAlreadyExists(v) => {
                WarehouseError::Conflict(format!("another statement committed version {v} first"))
            }
            DeltaTableError::GenericError { source } => match source.downcast::<datafusion::error::DataFusionError>() {
                Ok(e) => WarehouseError::from_datafusion(*e),
                Err(other) => WarehouseError::Execution(other.to_string()),
            },
            DeltaTableError::NotATable(what) => WarehouseError::ObjectNotFound(what),
            DeltaTableError::InvalidVersion(v) => WarehouseError::Compilation(format!(
                "time travel data is not available for this table at version {v}: the requested time is before the table \
                 existed or beyond its retention"
            )),
            other => {
                let text = other.to_string();
                // A commit file listed while another writer was still
                // putting it in place: a lost race, as a conflict is.
                if text.contains("_delta_log") && text.contains("not found") {
                    WarehouseError::Conflict(format!("the table changed while it was read ({text})"))
                } else if text.contains("Resources exhausted") {
                    // A write's operators ran out of the session's memory.
                    WarehouseError::MemoryLimit(text)
                } else {
                    WarehouseError::Execution(text)
                }
            }
        }
    }

    pub(crate) fn from_datafusion(err: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        match err {
            E::ResourcesExhausted(msg) => WarehouseError::MemoryLimit(msg),
            E::SQL(e, _) => WarehouseError::Compilation(e.to_string()),
            E::Plan(msg) => classify_plan_error(msg),
            E::SchemaError(e, _) => match *e {
                datafusion::common::SchemaError::FieldNotFound { field, .. } => {
                    WarehouseError::InvalidIdentifier(field.name().to_owned())
                }
                other => WarehouseError::Compilation(other.to_string()),
            },
            E::NotImplemented(msg) => WarehouseError::Compilation(format!("unsupported feature: {msg}")),
            E::Execution(msg) => classify_text(msg),
            E::ArrowError(e, _) => match *e {
                // An operator's error passed through an Arrow kernel.
                arrow_schema::ArrowError::ExternalError(inner) => match inner.downcast::<E>() {
                    Ok(inner) => WarehouseError::from_datafusion(*inner),
                    Err(inner) => match inner.downcast::<WarehouseError>() {
                        Ok(ours) => *ours,
                        Err(inner) => classify_text(inner.to_string()),
                    },
                },
                other => classify_text(other.to_string()),
            },
            E::Context(ctx, inner) => match WarehouseError::from_datafusion(*inner) {
                WarehouseError::Execution(m) => WarehouseError::Execution(format!("{ctx}: {m}")),
                other => other,
            },
            E::Diagnostic(_, inner) => WarehouseError::from_datafusion(*inner),
            E::Collection(mut errors) if !errors.is_empty() => WarehouseError::from_datafusion(errors.swap_remove(0)),
            E::Shared(inner) => match std::sync::Arc::try_unwrap(inner) {
                Ok(e) => WarehouseError::from_datafusion(e),
                Err(shared) => classify_text(shared.to_string()),
            },
            E::External(e) => match e.downcast::<WarehouseError>() {
                // A statement stopped by its guard, or a function's own error.
                Ok(ours) => *ours,
                Err(e) => match e.downcast::<E>() {
                    Ok(inner) => WarehouseError::from_datafusion(*inner),
                    // A Delta Lake write (an INSERT's sink) that lost its commit race.
                    Err(e) => match e.downcast::<deltalake_core::DeltaTableError>() {
                        Ok(delta) => WarehouseError::from_delta(*delta),
                        Err(e) => classify_text(e.to_string()),
                    },
                },
            },
            other => {
                let text = other.to_string();
                if text.contains("Resources exhausted") {
                    WarehouseError::MemoryLimit(text)
                } else {
                    WarehouseError::Internal(text)
                }
            }
        }
    }
}

impl WarehouseError {
    /// A function's failure on a value, with Snowflake's code for what its
    /// message says (dates, timestamps and booleans not recognized, values
    /// out of range, invalid regular expressions); a plain execution error
    /// otherwise.
    pub(crate) fn of_value(message: String) -> Self {
        let (code, sql_state) = if message.contains("is not recognized") {
            if message.starts_with("Timestamp") {
                ("100035", "22007")
            } else if message.starts_with("Date") {
                ("100040", "22007")
            } else if message.starts_with("Boolean") {
                ("100037", "22018")
            } else if message.starts_with("Numeric") {
                return WarehouseError::Execution(message);
            } else {
                ("100038", "22018")
            }
        } else if message.contains("out of range") {
            if message.starts_with("Timestamp") || message.starts_with("Date") {
                ("100040", "22008")
            } else {
                ("100039", "22003")
            }
        } else if message.starts_with("Invalid regular expression") {
            ("100048", "2201B")
        } else {
            return WarehouseError::Execution(message);
        };
        WarehouseError::InvalidValue { code, sql_state, message }
    }
}

/// An execution error known only by its text: the memory limit's when it
/// says so (an operator may have turned DataFusion's error into text).
fn classify_text(msg: String) -> WarehouseError {
    if let Some(rest) = msg.split("Cannot cast string '").nth(1).or_else(|| msg.split("Cannot cast value '").nth(1))
        && let Some(end) = rest.find("' to value of")
    {
        let (value, target) = (&rest[..end], &rest[end..]);
        return if target.contains("Boolean") {
            WarehouseError::of_value(format!("Boolean value '{value}' is not recognized"))
        } else if target.contains("Date") {
            WarehouseError::of_value(format!("Date '{value}' is not recognized"))
        } else if target.contains("Timestamp") {
            WarehouseError::of_value(format!("Timestamp '{value}' is not recognized"))
        } else {
            WarehouseError::NumericValueNotRecognized(value.to_owned())
        };
    }
    if msg.contains("Resources exhausted") { WarehouseError::MemoryLimit(msg) } else { WarehouseError::Execution(msg) }
}

fn classify_plan_error(msg: String) -> WarehouseError {
    if let Some(rest) = msg.strip_prefix("table '").or_else(|| msg.strip_prefix("Table '"))
        && let Some(end) = rest.find('\'')
        && msg.contains("not found")
    {
        return WarehouseError::ObjectNotFound(rest[..end].to_owned());
    }
    WarehouseError::Compilation(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snowflakes() {
        assert_eq!(WarehouseError::Compilation("x".into()).code(), "001003");
        assert_eq!(WarehouseError::ObjectNotFound("T".into()).code(), "002003");
        assert_eq!(WarehouseError::Cancelled.code(), "000604");
        assert_eq!(WarehouseError::Timeout(Duration::from_secs(3)).code(), "000630");
        assert!(WarehouseError::Timeout(Duration::from_secs(3)).to_string().contains("3 second"));
    }

    #[test]
    fn table_not_found_is_002003() {
        let e = classify_plan_error("table 'DEMO.HEALTHCARE.NOPE' not found".into());
        assert!(matches!(e, WarehouseError::ObjectNotFound(ref t) if t == "DEMO.HEALTHCARE.NOPE"), "{e:?}");
    }
}
