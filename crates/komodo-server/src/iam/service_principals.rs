//! `/internal/service-principals`: account admins create, list, rotate and
//! delete the service principals of an account (T03); and
//! `/v1/iam/service-principals/token`, the client credentials grant as
//! JSON. A secret is shown once, in the answer that creates or rotates it,
//! and stored only as a keyed hash (S01).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use komodo_protocol::iam::{
    CreateServicePrincipalRequest, CreatedServicePrincipal, RotatedSecret, ServicePrincipalList,
    ServicePrincipalTokenRequest, ServicePrincipalTokenResponse,
};

use crate::extract::AccountAdmin;
use crate::identity::service_principals::{authenticate_secret, create as create_principal, new_secret, to_wire};
use crate::state::AppState;
use crate::web::api::ApiFailure;

fn validate_name(request: &CreateServicePrincipalRequest) -> Result<(), ApiFailure> {
    let name = request.name.trim();
    if name.is_empty() {
        return Err(ApiFailure::unprocessable("`name` must not be empty"));
    }
    if name.chars().count() > 200 || request.description.as_deref().is_some_and(|d| d.chars().count() > 2000) {
        return Err(ApiFailure::unprocessable("`name` is limited to 200 characters and `description` to 2000"));
    }
    Ok(())
}

/// `POST /internal/service-principals`.
pub async fn create(
    State(state): State<AppState>,
    admin: AccountAdmin,
    body: Result<Json<CreateServicePrincipalRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CreatedServicePrincipal>), ApiFailure> {
    let Json(request) = body.map_err(|e| ApiFailure::bad_request(format!("invalid JSON body: {}", e.body_text())))?;
    validate_name(&request)?;
    let created = create_principal(
        state.store(),
        state.secrets(),
        &admin.account_id,
        request.name.trim(),
        request.description.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /internal/service-principals`.
pub async fn list(
    State(state): State<AppState>,
    admin: AccountAdmin,
) -> Result<Json<ServicePrincipalList>, ApiFailure> {
    let rows = state.store().list_service_principals(&admin.account_id).await?;
    Ok(Json(ServicePrincipalList { service_principals: rows.into_iter().map(to_wire).collect() }))
}

/// `DELETE /internal/service-principals/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    admin: AccountAdmin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let account_id = &admin.account_id;
    if state.store().delete_service_principal(account_id, &id).await? {
        tracing::info!(service_principal_id = %id, account_id = %account_id, "deleted service principal");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiFailure::not_found("no such service principal in this account"))
    }
}

/// `POST /internal/service-principals/{id}/rotate-secret`.
pub async fn rotate(
    State(state): State<AppState>,
    admin: AccountAdmin,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiFailure> {
    let secret = new_secret();
    let hash = state.secrets().hash_client_secret(secret.expose_secret());
    match state.store().rotate_service_principal_secret(&admin.account_id, &id, &hash).await? {
        Some(row) => {
            tracing::info!(service_principal_id = %row.id, "rotated service principal secret");
            Ok(Json(RotatedSecret { service_principal_id: row.id, client_id: row.client_id, client_secret: secret }))
        }
        None => Err(ApiFailure::not_found("no such service principal in this account")),
    }
}

/// `POST /v1/iam/service-principals/token`: client credentials as JSON,
/// answered 201 with the same token the `client_credentials` grant gives.
pub async fn token(
    State(state): State<AppState>,
    body: Result<Json<ServicePrincipalTokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<ServicePrincipalTokenResponse>), ApiFailure> {
    let Json(request) =
        body.map_err(|_| ApiFailure::bad_request("expected a JSON body with `client_id` and `client_secret`"))?;
    let principal = authenticate_secret(state.store(), state.secrets(), &request.client_id, &request.client_secret)
        .await?
        .ok_or_else(|| ApiFailure::unauthorized("invalid client credentials"))?;
    let (access_token, expires_in) =
        state.minter().service_principal(&principal).await.map_err(ApiFailure::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(ServicePrincipalTokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            service_principal_id: principal.id,
        }),
    ))
}
