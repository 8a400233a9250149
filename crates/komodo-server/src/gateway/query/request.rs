//! What a statement request asks for: its result format (and the one a
//! login asks for), its bindings as rows of parameters (capped: F06), and
//! whether it is the connectors' `result_scan` of an earlier query.

use std::collections::BTreeMap;

use komodo_protocol::gateway::{Binding, QUERY_RESULT_FORMAT, codes};
use komodo_warehouse::{Param, SessionParams};
use serde_json::Value;

use crate::queries::error::GwError;
use crate::queries::results::Format;
use crate::store::gateway::GatewaySessionRow;

/// The statement parameters naming a result format for the official
/// connectors (Snowflake's own Arrow encoding when `ARROW`).
const CONNECTOR_FORMAT_PARAMETERS: [&str; 3] =
    ["PYTHON_CONNECTOR_QUERY_RESULT_FORMAT", "JDBC_QUERY_RESULT_FORMAT", "ODBC_QUERY_RESULT_FORMAT"];

/// The result format of a statement, as Snowflake chooses it:
///
/// 1. the statement parameter `QUERY_RESULT_FORMAT` (what this project's
///    own clients send: `ARROW` is the warehouse's own Arrow types), or a
///    connector's own name for it (`ARROW` is Snowflake's Arrow encoding);
/// 2. the session's `QUERY_RESULT_FORMAT` (set by `ALTER SESSION` or the
///    login's session parameters, under any of its names): `JSON`, or
///    `ARROW` in Snowflake's encoding;
/// 3. the client's default: Snowflake's Arrow encoding for
///    snowflake-connector-python (whose login names it `PythonConnector`),
///    whose `fetch_pandas_all` and `fetch_arrow_batches` need it; JSON for
///    every other client.
pub fn requested_format(parameters: &serde_json::Map<String, Value>, session: Option<&GatewaySessionRow>) -> Format {
    let text = |name: &str| parameters.get(name).and_then(Value::as_str);
    if let Some(asked) = text(QUERY_RESULT_FORMAT) {
        return Format::parse(asked);
    }
    let arrow_or_json =
        |asked: &str| if asked.eq_ignore_ascii_case("arrow") { Format::Connector } else { Format::Json };
    if let Some(asked) = CONNECTOR_FORMAT_PARAMETERS.iter().find_map(|name| text(name)) {
        return arrow_or_json(asked);
    }
    let Some(session) = session else { return Format::Json };
    let set = session.parameters.as_deref().map(SessionParams::from_json).and_then(|p| p.result_format);
    if let Some(asked) = set {
        return arrow_or_json(&asked);
    }
    match &session.client_app {
        Some(app) if app.to_ascii_lowercase().contains("python") => Format::Connector,
        _ => Format::Json,
    }
}

/// The session parameters a login asks for (`SESSION_PARAMETERS`) that
/// the gateway keeps with the session, as the session's stored parameters
/// (`None` when it asks for none of them): the result format, under any
/// of its names (`QUERY_RESULT_FORMAT`, `PYTHON_CONNECTOR_QUERY_RESULT_FORMAT`,
/// ...), `JSON` or `ARROW`.
pub fn login_parameters(asked: Option<&serde_json::Map<String, Value>>) -> Result<Option<String>, GwError> {
    let Some(asked) = asked else { return Ok(None) };
    let mut params = SessionParams::default();
    for (name, value) in asked {
        let upper = name.to_ascii_uppercase();
        if upper != QUERY_RESULT_FORMAT && !CONNECTOR_FORMAT_PARAMETERS.contains(&upper.as_str()) {
            continue;
        }
        let format = value.as_str().map(str::to_ascii_uppercase);
        match format.as_deref() {
            Some(f @ ("JSON" | "ARROW")) => params.result_format = Some(f.to_owned()),
            _ => {
                return Err(GwError::new(
                    codes::COMPILATION,
                    format!("invalid value [{value}] for session parameter '{upper}': JSON or ARROW is expected"),
                )
                .state("22023"));
            }
        }
    }
    Ok(params.to_json())
}

/// `select * from table(result_scan('<id>'))`, as the Python connector's
/// `get_results_from_sfqid` sends it: the id, if `sql` is exactly that.
pub fn result_scan_target(sql: &str) -> Option<String> {
    let compact: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let compact = compact.trim_end_matches(';').trim();
    let compact = compact.replace("( ", "(").replace(" )", ")").replace(" (", "(");
    let rest = compact.strip_prefix("select * from table(result_scan('")?;
    let id = rest.strip_suffix("'))")?;
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

/// Converts the request's bindings to rows of parameters: one row for
/// scalar bindings, one row per element when the values are arrays
/// (`executemany`), at most `max_rows` of them (SECURITY.md F06).
pub fn binding_rows(bindings: Option<BTreeMap<String, Binding>>, max_rows: usize) -> Result<Vec<Vec<Param>>, GwError> {
    let Some(bindings) = bindings.filter(|b| !b.is_empty()) else {
        return Ok(vec![Vec::new()]);
    };
    let mut ordered: Vec<(usize, Binding)> = Vec::with_capacity(bindings.len());
    for (key, binding) in bindings {
        let index: usize = key.parse().map_err(|_| {
            GwError::new("002049", format!("Bind variable key `{key}` is not a position; use \"1\", \"2\", ..."))
                .state("22000")
        })?;
        ordered.push((index, binding));
    }
    ordered.sort_by_key(|(i, _)| *i);
    for (expected, (index, _)) in ordered.iter().enumerate() {
        if *index != expected + 1 {
            return Err(GwError::new(
                "002049",
                format!("Bind variable {} is missing: positions must run 1, 2, ... without gaps", expected + 1),
            )
            .state("22000"));
        }
    }
    let scalar =
        |type_name: &str, v: &Value| -> Result<Param, GwError> {
            match v {
                Value::Null => Ok(Param::new(type_name, None)),
                Value::String(s) => Ok(Param::new(type_name, Some(s.clone()))),
                Value::Number(n) => Ok(Param::new(type_name, Some(n.to_string()))),
                Value::Bool(b) => Ok(Param::new(type_name, Some(b.to_string()))),
                other => Err(GwError::new("002049", format!("Bind variable value {other} is not a string or null"))
                    .state("22000")),
            }
        };
    let array_len = ordered.iter().find_map(|(_, b)| b.value.as_array().map(Vec::len));
    if let Some(rows) = array_len.filter(|rows| *rows > max_rows) {
        return Err(GwError::new(
            "002049",
            format!(
                "Array binding of {rows} rows is larger than the {max_rows} rows a statement may bind; \
                 send the rows in several statements"
            ),
        )
        .state("22000"));
    }
    match array_len {
        None => Ok(vec![ordered.iter().map(|(_, b)| scalar(&b.type_name, &b.value)).collect::<Result<_, _>>()?]),
        Some(rows) => {
            let mut out = vec![Vec::with_capacity(ordered.len()); rows];
            for (index, binding) in &ordered {
                let values = binding.value.as_array().filter(|a| a.len() == rows).ok_or_else(|| {
                    GwError::new(
                        "002049",
                        format!("Bind variable {index} must be an array of {rows} values like the others"),
                    )
                    .state("22000")
                })?;
                for (row, value) in out.iter_mut().zip(values) {
                    row.push(scalar(&binding.type_name, value)?);
                }
            }
            Ok(out)
        }
    }
}

/// Query parameters of a chunk download.
#[derive(Debug, serde::Deserialize)]
pub struct ChunkQuery {
    /// `json` or `arrow`.
    #[serde(default)]
    pub format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_scan_is_recognised_only_in_the_connectors_exact_form() {
        let id = "01b5f0a2-0000-4a3b-0000-00000000000a";
        assert_eq!(result_scan_target(&format!("select * from table(result_scan('{id}'))")).as_deref(), Some(id));
        assert_eq!(
            result_scan_target(&format!("SELECT *\n FROM TABLE ( RESULT_SCAN('{}') );", id.to_uppercase())).as_deref(),
            Some(id)
        );
        assert_eq!(result_scan_target("select * from table(result_scan('x'))"), None);
        assert_eq!(result_scan_target(&format!("select a from table(result_scan('{id}'))")), None);
    }

    fn session(client_app: Option<&str>, parameters: Option<&str>) -> GatewaySessionRow {
        GatewaySessionRow {
            id: "s".into(),
            numeric_id: 1,
            account_id: "a".into(),
            subject: "user:u".into(),
            token_family: None,
            token_jti: None,
            token_expires_at: 0,
            master_expires_at: 0,
            database_name: None,
            schema_name: None,
            parameters: parameters.map(str::to_owned),
            client_app: client_app.map(str::to_owned),
            closed_at: None,
        }
    }

    #[test]
    fn the_result_format_follows_the_statement_then_the_session_then_the_client() {
        let none = serde_json::Map::new();
        let own = json!({"QUERY_RESULT_FORMAT": "ARROW"}).as_object().unwrap().clone();
        let python = session(Some("PythonConnector"), None);
        assert_eq!(requested_format(&own, Some(&python)), Format::Arrow, "the project's own parameter");
        assert_eq!(requested_format(&none, Some(&python)), Format::Connector, "the connector's default");
        assert_eq!(requested_format(&none, Some(&session(Some("Go"), None))), Format::Json);
        assert_eq!(requested_format(&none, None), Format::Json);
        let json_session = session(Some("PythonConnector"), Some(r#"{"QUERY_RESULT_FORMAT":"JSON"}"#));
        assert_eq!(requested_format(&none, Some(&json_session)), Format::Json, "ALTER SESSION ... = 'JSON'");
        let arrow_session = session(Some("Go"), Some(r#"{"QUERY_RESULT_FORMAT":"ARROW"}"#));
        assert_eq!(requested_format(&none, Some(&arrow_session)), Format::Connector);
        let statement = json!({"PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "json"}).as_object().unwrap().clone();
        assert_eq!(requested_format(&statement, Some(&python)), Format::Json);
    }

    #[test]
    fn a_login_keeps_the_result_format_it_asks_for() {
        let asked = json!({"python_connector_query_result_format": "json", "QUERY_TAG": "x"});
        let kept = login_parameters(asked.as_object()).unwrap().unwrap();
        assert_eq!(SessionParams::from_json(&kept).result_format.as_deref(), Some("JSON"));
        assert_eq!(login_parameters(json!({"QUERY_TAG": "x"}).as_object()).unwrap(), None);
        assert_eq!(login_parameters(None).unwrap(), None);
        let bad = login_parameters(json!({"QUERY_RESULT_FORMAT": "XML"}).as_object()).unwrap_err();
        assert!(bad.message.contains("JSON or ARROW"), "{}", bad.message);
    }

    fn binding_rows_of(bindings: Option<BTreeMap<String, Binding>>) -> Result<Vec<Vec<Param>>, GwError> {
        binding_rows(bindings, 1_000)
    }

    #[test]
    fn array_bindings_past_the_cap_are_refused() {
        let values = json!((0..1_001).map(|i| i.to_string()).collect::<Vec<_>>());
        let e = binding_rows(Some(BTreeMap::from([("1".to_owned(), binding("FIXED", values))])), 1_000).unwrap_err();
        assert_eq!(e.code, "002049");
        assert!(e.message.contains("1001 rows"), "{}", e.message);
    }

    fn binding(type_name: &str, value: Value) -> Binding {
        Binding { type_name: type_name.into(), value }
    }

    #[test]
    fn scalar_and_array_bindings_become_rows_in_position_order() {
        let one = binding_rows_of(Some(BTreeMap::from([
            ("2".to_owned(), binding("TEXT", json!("x"))),
            ("1".to_owned(), binding("FIXED", json!("42"))),
        ])))
        .unwrap();
        assert_eq!(one, vec![vec![Param::new("FIXED", Some("42".into())), Param::new("TEXT", Some("x".into()))]]);

        let many = binding_rows_of(Some(BTreeMap::from([
            ("1".to_owned(), binding("FIXED", json!(["1", "2", null]))),
            ("2".to_owned(), binding("TEXT", json!(["a", "b", "c"]))),
        ])))
        .unwrap();
        assert_eq!(many.len(), 3);
        assert_eq!(many[2], vec![Param::new("FIXED", None), Param::new("TEXT", Some("c".into()))]);

        assert!(binding_rows_of(Some(BTreeMap::from([("2".to_owned(), binding("TEXT", json!("x")))]))).is_err());
        assert!(
            binding_rows_of(Some(BTreeMap::from([
                ("1".to_owned(), binding("FIXED", json!(["1", "2"]))),
                ("2".to_owned(), binding("TEXT", json!(["a"]))),
            ])))
            .is_err()
        );
        assert_eq!(binding_rows_of(None).unwrap(), vec![Vec::<Param>::new()]);
    }
}
