//! A session's state: its tables, current database and schema, session
//! parameters, and its planning state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::execution::TaskContext;
use datafusion::execution::session_state::SessionState;
use datafusion::scalar::ScalarValue;
use parking_lot::Mutex;

use crate::catalog::SessionTables;

/// One open session of an account.
pub(crate) struct SessionEntry {
    pub(crate) account_id: String,
    pub(crate) tables: Arc<SessionTables>,
    /// The current database and schema.
    pub(crate) current: Mutex<(Option<String>, Option<String>)>,
    /// What `ALTER SESSION` set.
    pub(crate) params: Mutex<SessionParams>,
    /// Whether the session may change the account's own data (set by the
    /// platform from the caller's role before each statement).
    pub(crate) access: Mutex<Access>,
    /// Session variables (`SET x = ...`), by upper-case name.
    pub(crate) variables: Mutex<BTreeMap<String, ScalarValue>>,
    /// Whose stage `@~` is (the platform sets its principal before each
    /// statement; [`DEFAULT_USER`] otherwise).
    pub(crate) user: Mutex<String>,
    /// The temporary stages and file formats the session made, dropped
    /// (a stage with its files) when the session ends.
    pub(crate) temporaries: Mutex<Vec<(crate::storage::DefinitionKind, crate::catalog::TableKey)>>,
    /// Where `AT`/`BEFORE(STATEMENT => ...)` finds statements' times (the
    /// engine's).
    pub(crate) statement_times: Arc<parking_lot::RwLock<Option<Arc<dyn super::StatementTimes>>>>,
    /// The engine's statement time limit, above which a session cannot
    /// set its own.
    pub(crate) max_timeout: Duration,
    pub(crate) base: SessionState,
    /// A copy of `base` kept between statements: planning one sets its
    /// defaults and start time on a copy, and copying the state (its
    /// function registries) is a good part of planning a small statement.
    pub(crate) spare: Mutex<Option<SessionState>>,
    /// What plans run with (the function registries, the memory pool);
    /// the same for every statement of the session.
    pub(crate) task: Arc<TaskContext>,
}

/// A session's temporary stages and file formats end with it (best effort:
/// a definition another session replaced meanwhile goes too, as its name
/// was this session's).
impl Drop for SessionEntry {
    fn drop(&mut self) {
        for (kind, key) in self.temporaries.get_mut().drain(..) {
            if let Err(e) = self.tables.own.drop_definition(kind, &key.0, &key.1, &key.2) {
                tracing::warn!(error = %e, name = %key.2, "cannot drop a temporary object of an ended session");
            }
        }
    }
}

/// The owner of `@~` in a session the platform named no principal for.
pub(crate) const DEFAULT_USER: &str = "default";

/// What a session may do with its account's own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Read and change it (an account's `admin` and `member` roles, and
    /// service principals).
    #[default]
    ReadWrite,
    /// Only read it (the `reader` role).
    ReadOnly,
}

/// The session parameters a session has set with `ALTER SESSION` (those
/// the engine honours; see `commands::alter_session` for the list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionParams {
    /// `STATEMENT_TIMEOUT_IN_SECONDS`: a lower limit than the engine's
    /// (never a higher one).
    pub statement_timeout: Option<Duration>,
    /// `QUERY_TAG`.
    pub query_tag: Option<String>,
    /// `QUERY_RESULT_FORMAT` (or a connector's own name for it): `JSON`
    /// or `ARROW`, upper case.
    pub result_format: Option<String>,
    /// `AUTOCOMMIT = FALSE`: a session's first write opens a transaction.
    pub autocommit_off: bool,
}

impl SessionParams {
    /// The parameters as a JSON object (what a store keeps, for another
    /// process serving the same session to apply); `None` when none is set.
    pub fn to_json(&self) -> Option<String> {
        if *self == Self::default() {
            return None;
        }
        let mut o = serde_json::Map::new();
        if let Some(t) = self.statement_timeout {
            o.insert("STATEMENT_TIMEOUT_IN_SECONDS".into(), t.as_secs().into());
        }
        if let Some(t) = &self.query_tag {
            o.insert("QUERY_TAG".into(), t.clone().into());
        }
        if let Some(f) = &self.result_format {
            o.insert("QUERY_RESULT_FORMAT".into(), f.clone().into());
        }
        if self.autocommit_off {
            o.insert("AUTOCOMMIT".into(), false.into());
        }
        Some(serde_json::Value::Object(o).to_string())
    }

    /// Parameters from [`SessionParams::to_json`]'s text (what it cannot
    /// read is left unset).
    pub fn from_json(text: &str) -> Self {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let text = |k: &str| value.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
        Self {
            statement_timeout: value
                .get("STATEMENT_TIMEOUT_IN_SECONDS")
                .and_then(serde_json::Value::as_u64)
                .map(Duration::from_secs),
            query_tag: text("QUERY_TAG"),
            result_format: text("QUERY_RESULT_FORMAT"),
            autocommit_off: value.get("AUTOCOMMIT").and_then(serde_json::Value::as_bool) == Some(false),
        }
    }
}

/// A session's planning state, lent for one statement and put back as
/// the spare when the statement is planned (or dropped on the way).
pub(crate) struct Planning<'a> {
    slot: &'a Mutex<Option<SessionState>>,
    state: Option<SessionState>,
}

impl<'a> Planning<'a> {
    pub(crate) fn borrow(s: &'a SessionEntry) -> Self {
        let spare = s.spare.lock().take();
        Self { slot: &s.spare, state: Some(spare.unwrap_or_else(|| s.base.clone())) }
    }
}

impl std::ops::Deref for Planning<'_> {
    type Target = SessionState;
    fn deref(&self) -> &SessionState {
        self.state.as_ref().expect("lent until dropped")
    }
}

impl std::ops::DerefMut for Planning<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        self.state.as_mut().expect("lent until dropped")
    }
}

impl Drop for Planning<'_> {
    fn drop(&mut self) {
        *self.slot.lock() = self.state.take();
    }
}

/// A Snowflake identifier's stored form: quoted names keep their case
/// (`""` escapes a quote), unquoted ones are upper-cased.
pub(crate) fn identifier(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::SessionParams;

    #[test]
    fn session_params_round_trip_as_json() {
        assert_eq!(SessionParams::default().to_json(), None);
        let params = SessionParams {
            statement_timeout: Some(std::time::Duration::from_secs(7)),
            query_tag: Some("it's \"tagged\"".into()),
            result_format: Some("ARROW".into()),
            autocommit_off: true,
        };
        assert_eq!(SessionParams::from_json(&params.to_json().unwrap()), params);
        assert_eq!(SessionParams::from_json("not json"), SessionParams::default());
    }

    #[test]
    fn session_identifiers_follow_snowflake_case_rules() {
        assert_eq!(super::identifier("demo"), "DEMO");
        assert_eq!(super::identifier("\"demo\""), "demo");
        assert_eq!(super::identifier("\"a\"\"b\""), "a\"b");
    }
}
