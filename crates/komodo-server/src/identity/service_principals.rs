//! Service principals: machine identities bound to one account, with a
//! secret of 256 random bits behind a recognisable prefix, shown once and
//! stored only as a keyed hash, checked in constant time (S01).

use komodo_protocol::iam::{CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, CreatedServicePrincipal, ServicePrincipal};
use komodo_protocol::secret::ClientSecret;

use crate::clock::rfc3339;
use crate::crypto::{Secrets, random_token};
use crate::store::iam::ServicePrincipalRow;
use crate::store::{Store, StoreError};

/// A new client secret: the prefix and 256 random bits.
pub fn new_secret() -> ClientSecret {
    ClientSecret::new(format!("{CLIENT_SECRET_PREFIX}{}", random_token::<32>()))
}

/// The wire form of a principal.
/// The description is `""` when none was given (clients with strict
/// models require a string), and the record changes only by being created
/// (a secret rotation changes the secret, not the record).
pub fn to_wire(row: ServicePrincipalRow) -> ServicePrincipal {
    ServicePrincipal {
        service_principal_id: row.id,
        client_id: row.client_id,
        name: row.name,
        description: Some(row.description.unwrap_or_default()),
        account_id: row.account_id,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.created_at),
    }
}

/// Creates a principal in `account_id` (shared by the API and the admin
/// command). The returned secret exists nowhere else.
pub async fn create(
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
/// secret (indistinguishable to the caller, in answer and in time).
pub async fn authenticate_secret(
    store: &Store,
    secrets: &Secrets,
    client_id: &str,
    secret: &ClientSecret,
) -> Result<Option<ServicePrincipalRow>, StoreError> {
    let found = store.service_principal_for_auth(client_id).await?;
    Ok(match found {
        Some(found) if secrets.verify_client_secret(secret.expose_secret(), &found.secret_hash) => {
            Some(found.principal.clone())
        }
        Some(_) => None,
        None => {
            // Same work as a real check, so timing does not reveal the id.
            let _ = secrets.verify_client_secret(secret.expose_secret(), &"00".repeat(32));
            None
        }
    })
}
