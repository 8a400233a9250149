//! Service principals: machine identities bound to one account, with a
//! secret that is shown once and stored only as a keyed hash (S01).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use komodo_protocol::iam::{
    CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, CreateServicePrincipalRequest, CreatedServicePrincipal, RotatedSecret,
    ServicePrincipal, ServicePrincipalList, ServicePrincipalTokenRequest, ServicePrincipalTokenResponse,
};
use komodo_protocol::secret::ClientSecret;

use super::ApiFailure;
use super::auth::{account_header, authenticate, require_admin};
use crate::clock::rfc3339;
use crate::crypto::{Secrets, random_token};
use crate::state::AppState;
use crate::store::iam::ServicePrincipalRow;
use crate::store::{Store, StoreError};

/// A new client secret: the prefix and 256 random bits.
pub fn new_secret() -> ClientSecret {
    ClientSecret::new(format!("{CLIENT_SECRET_PREFIX}{}", random_token::<32>()))
}

/// The wire form of a principal.
pub fn to_wire(row: ServicePrincipalRow) -> ServicePrincipal {
    ServicePrincipal {
        service_principal_id: row.id,
        client_id: row.client_id,
        name: row.name,
        description: row.description,
        account_id: row.account_id,
        created_at: rfc3339(row.created_at),
    }
}

/// Creates a principal in `account_id` (shared by the API and the admin
/// command). The returned secret exists nowhere else.
pub async fn create_in_account(
    store: &Store,
    secrets: &Secrets,
    account_id: &str,
    name: &str,
    description: Option<&str>,
) -> Result<CreatedServicePrincipal, StoreError> {
    let secret = new_secret();
    let client_id = format!("{CLIENT_ID_PREFIX}{}", random_token::<16>());
    let row = store
        .create_service_principal(
            account_id,
            name,
            description,
            &client_id,
            &secrets.hash_client_secret(secret.expose_secret()),
        )
        .await?;
    tracing::info!(service_principal_id = %row.id, account_id = %row.account_id, "created service principal");
    let wire = to_wire(row);
    Ok(CreatedServicePrincipal {
        service_principal_id: wire.service_principal_id,
        client_id: wire.client_id,
        client_secret: secret,
        name: wire.name,
        description: wire.description,
        account_id: wire.account_id,
        created_at: wire.created_at,
    })
}

/// Checks client credentials; `None` for an unknown client or a wrong
/// secret (indistinguishable to the caller).
pub async fn authenticate_secret(
    state: &AppState,
    client_id: &str,
    secret: &ClientSecret,
) -> Result<Option<ServicePrincipalRow>, StoreError> {
    let found = state.store().service_principal_for_auth(client_id).await?;
    Ok(match found {
        Some(found) if state.secrets().verify_client_secret(secret.expose_secret(), &found.secret_hash) => {
            Some(found.principal.clone())
        }
        Some(_) => None,
        None => {
            // Same work as a real check, so timing does not reveal the id.
            let _ = state.secrets().verify_client_secret(secret.expose_secret(), &"00".repeat(32));
            None
        }
    })
}

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
    headers: HeaderMap,
    body: Result<Json<CreateServicePrincipalRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CreatedServicePrincipal>), ApiFailure> {
    let principal = authenticate(&state, &headers).await?;
    let account_id = account_header(&state, &headers).await?;
    require_admin(&state, &principal, &account_id).await?;
    let Json(request) = body.map_err(|e| ApiFailure::bad_request(format!("invalid JSON body: {}", e.body_text())))?;
    validate_name(&request)?;
    let created = create_in_account(
        state.store(),
        state.secrets(),
        &account_id,
        request.name.trim(),
        request.description.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /internal/service-principals`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<ServicePrincipalList>, ApiFailure> {
    let principal = authenticate(&state, &headers).await?;
    let account_id = account_header(&state, &headers).await?;
    require_admin(&state, &principal, &account_id).await?;
    let rows = state.store().list_service_principals(&account_id).await?;
    Ok(Json(ServicePrincipalList { service_principals: rows.into_iter().map(to_wire).collect() }))
}

/// `DELETE /internal/service-principals/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let principal = authenticate(&state, &headers).await?;
    let account_id = account_header(&state, &headers).await?;
    require_admin(&state, &principal, &account_id).await?;
    if state.store().delete_service_principal(&account_id, &id).await? {
        tracing::info!(service_principal_id = %id, account_id = %account_id, "deleted service principal");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiFailure::not_found("no such service principal in this account"))
    }
}

/// `POST /internal/service-principals/{id}/rotate-secret`.
pub async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiFailure> {
    let principal = authenticate(&state, &headers).await?;
    let account_id = account_header(&state, &headers).await?;
    require_admin(&state, &principal, &account_id).await?;
    let secret = new_secret();
    let hash = state.secrets().hash_client_secret(secret.expose_secret());
    match state.store().rotate_service_principal_secret(&account_id, &id, &hash).await? {
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
    let principal = authenticate_secret(&state, &request.client_id, &request.client_secret)
        .await?
        .ok_or_else(|| ApiFailure::unauthorized("invalid client credentials"))?;
    let (access_token, expires_in) =
        crate::oidc::tokens::mint_service_principal(&state, &principal).await.map_err(ApiFailure::internal)?;
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
