//! `GET /internal/warehouse`: where the account's statements run (the
//! embedded warehouse, or an upstream Snowflake account), for any caller
//! with access to the account (`komodo whoami --check` shows it). The
//! upstream's user, host and key are the platform operators' and are not
//! shown.

use axum::Json;
use axum::extract::State;
use komodo_protocol::iam::{AccountWarehouse, UpstreamWarehouse};

use crate::extract::AccountMember;
use crate::state::AppState;
use crate::web::api::ApiFailure;

/// `GET /internal/warehouse`.
pub async fn show(State(state): State<AppState>, member: AccountMember) -> Result<Json<AccountWarehouse>, ApiFailure> {
    let row = state.store().warehouse_backend(&member.account_id).await?;
    Ok(Json(AccountWarehouse {
        account_id: member.account_id,
        backend: row.as_ref().map_or("embedded", |r| r.kind.as_str()).to_owned(),
        snowflake: row.map(|r| UpstreamWarehouse {
            account_name: r.account_name,
            warehouse: r.warehouse,
            role: r.role_name,
            database: r.database_name,
            schema: r.schema_name,
        }),
    }))
}
