//! The subscription service's account-access check, as Komodo Health's SDK
//! posts it after `komodo account set`:
//!
//! ```graphql
//! query full_customer_universe {
//!   customerUniverse(rbacAccountId: "<account id>") { subscriber { tags } }
//! }
//! ```
//!
//! The platform answers it for the caller: one entry for an account the
//! caller may act in (every account here has a warehouse the platform
//! manages, so its tags are `snowflake_managed`), none for any other
//! account (an unknown account and another's look the same: T01). Only
//! this query's fields exist; anything else is a GraphQL error.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::graphql::{Field, parse_query};
use crate::extract::Authenticated;
use crate::identity::Principal;
use crate::identity::access::{AccessError, account_access};
use crate::state::AppState;
use crate::web::api::ApiFailure;

/// The paths the check is served at: the SDK's production and integration
/// paths (its host rewritten to the platform) and a plain one.
pub const GRAPHQL_PATHS: [&str; 3] =
    ["/graphql", "/platform-subscription-prod/graphql", "/platform-subscription-integration/graphql"];

/// The tags of an account whose warehouse the platform manages.
pub const MANAGED_TAGS: [&str; 1] = ["snowflake_managed"];

/// A GraphQL error answer (HTTP 200, as GraphQL servers answer them).
fn graphql_error(message: impl Into<String>) -> Response {
    Json(json!({"data": null, "errors": [{"message": message.into()}]})).into_response()
}

/// `POST .../graphql`.
pub async fn graphql(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return Ok(
            (StatusCode::BAD_REQUEST, graphql_error("the body must be JSON: {\"query\": \"...\"}")).into_response()
        );
    };
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return Ok((StatusCode::BAD_REQUEST, graphql_error("the body must name a \"query\"")).into_response());
    };
    let fields = match parse_query(query) {
        Ok(fields) => fields,
        Err(e) => return Ok(graphql_error(format!("invalid query: {e}"))),
    };
    let mut data = Map::new();
    for field in &fields {
        match field.name.as_str() {
            "customerUniverse" => {
                let Some(account_id) = field.argument("rbacAccountId") else {
                    return Ok(graphql_error("customerUniverse needs the argument rbacAccountId: \"<account id>\""));
                };
                let answer = match customer_universe(&state, &principal, account_id, field).await? {
                    Ok(answer) => answer,
                    Err(message) => return Ok(graphql_error(message)),
                };
                data.insert(field.name.clone(), answer);
            }
            "__typename" => {
                data.insert(field.name.clone(), json!("Query"));
            }
            other => return Ok(graphql_error(format!("Cannot query field \"{other}\" on type \"Query\"."))),
        }
    }
    Ok(Json(json!({"data": data})).into_response())
}

/// The caller's entries for one account: the account if it may act in it.
async fn customer_universe(
    state: &AppState,
    principal: &Principal,
    account_id: &str,
    field: &Field,
) -> Result<Result<Value, String>, ApiFailure> {
    let account = state.store().account_by_ref(account_id).await?;
    let visible = match account {
        None => None,
        Some(account) => match account_access(state.store(), principal, &account.id).await {
            Ok(_) => Some(account.id),
            Err(AccessError::Store(e)) => return Err(e.into()),
            Err(_) => None,
        },
    };
    let Some(account_id) = visible else { return Ok(Ok(json!([]))) };
    Ok(select_customer(field, &account_id).map(|entry| json!([entry])))
}

/// A `CustomerUniverse` entry shaped by the selection.
fn select_customer(field: &Field, account_id: &str) -> Result<Value, String> {
    if field.selection.is_empty() {
        return Err("customerUniverse must select fields, for example { subscriber { tags } }".into());
    }
    let mut out = Map::new();
    for f in &field.selection {
        let value = match f.name.as_str() {
            "rbacAccountId" => json!(account_id),
            "__typename" => json!("CustomerUniverse"),
            "subscriber" => {
                if f.selection.is_empty() {
                    return Err("subscriber must select fields, for example { tags }".into());
                }
                let mut sub = Map::new();
                for s in &f.selection {
                    let value = match s.name.as_str() {
                        "tags" => json!(MANAGED_TAGS),
                        "__typename" => json!("Subscriber"),
                        other => return Err(format!("Cannot query field \"{other}\" on type \"Subscriber\".")),
                    };
                    sub.insert(s.name.clone(), value);
                }
                Value::Object(sub)
            }
            other => return Err(format!("Cannot query field \"{other}\" on type \"CustomerUniverse\".")),
        };
        out.insert(f.name.clone(), value);
    }
    Ok(Value::Object(out))
}
