//! `komodo service-principal create | list | delete | rotate-secret`.

use komodo::Error;
use komodo::credentials::{ClientCredentialsProfile, CredentialsStore, keys};
use komodo::platform;
use komodo::secret::ClientSecret;

use crate::Context;
use crate::cli::ServicePrincipalCommand;
use crate::output::{Failure, exit};

pub(crate) async fn run(ctx: &Context, command: ServicePrincipalCommand) -> Result<(), Failure> {
    match command {
        ServicePrincipalCommand::Create { name, description, save_profile } => {
            create(ctx, &name, description.as_deref(), save_profile.as_deref()).await
        }
        ServicePrincipalCommand::List => list(ctx).await,
        ServicePrincipalCommand::Delete { id } => {
            let client = ctx.client(true).await?;
            client.delete_service_principal(&id).await?;
            if ctx.ui.json() {
                ctx.ui.json_data(&serde_json::json!({ "service_principal_id": id, "deleted": true }));
            }
            ctx.ui.success(format!("Deleted service principal {id}; its tokens no longer work"));
            Ok(())
        }
        ServicePrincipalCommand::RotateSecret { id, save_profile } => rotate(ctx, &id, save_profile.as_deref()).await,
    }
}

/// Checks a profile name before anything is created, so a bad name never
/// costs a secret that cannot be shown again.
fn check_new_profile(store: &CredentialsStore, name: &str, replace_client: Option<&str>) -> Result<(), Failure> {
    if name == "default" {
        return Err(Failure::new(exit::USAGE, "[default] is reserved for `komodo login`")
            .hint("choose another name for --save-profile"));
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(Failure::new(exit::USAGE, format!("invalid profile name {name:?}"))
            .hint("use letters, digits, `-`, `_` or `.`"));
    }
    if let Some(doc) = store.read().map_err(Error::Credentials)?
        && let Some(section) = doc.section(name)
        && replace_client.is_none_or(|client_id| section.get(keys::CLIENT_ID) != Some(client_id))
    {
        return Err(Failure::new(
            exit::USAGE,
            format!("profile [{name}] already exists in {}", store.path().display()),
        )
        .hint("choose another name, or remove that profile first"));
    }
    Ok(())
}

/// What a named profile of a service principal holds.
struct Saved<'a> {
    client_id: &'a str,
    secret: &'a ClientSecret,
    account_id: &'a str,
    account_slug: Option<&'a str>,
    api_url: &'a url::Url,
}

fn save_profile(ctx: &Context, store: &CredentialsStore, name: &str, saved: Saved<'_>) -> Result<(), Failure> {
    let Saved { client_id, secret, account_id, account_slug, api_url } = saved;
    let profile = ClientCredentialsProfile {
        client_id: client_id.to_owned(),
        client_secret: secret.clone(),
        account_id: Some(account_id.to_owned()),
        account_slug: account_slug.map(str::to_owned),
        api_url: (!platform::is_default(api_url)).then(|| api_url.to_string()),
    };
    store.update(|doc| profile.write(doc, name, store.path())).map_err(Error::Credentials)?;
    ctx.ui.success(format!(
        "Saved to profile [{name}] in {}; use it with `--profile {name}` or `get_snowflake_connection(profile=\"{name}\")`",
        store.path().display()
    ));
    Ok(())
}

async fn create(ctx: &Context, name: &str, description: Option<&str>, profile: Option<&str>) -> Result<(), Failure> {
    let store = ctx.store()?;
    if let Some(profile) = profile {
        check_new_profile(&store, profile, None)?;
    }
    let client = ctx.client(true).await?;
    let created = client.create_service_principal(name, description).await?;
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::to_value(&created).unwrap_or_default());
    } else {
        ctx.ui.message(format!("Created service principal {} ({}).", created.name, created.service_principal_id));
        ctx.ui.message("Store the secret now: it is shown only this once.\n");
        ctx.ui.data(format!("client_id:     {}", created.client_id));
        ctx.ui.data(format!("client_secret: {}", created.client_secret.expose_secret()));
        ctx.ui.data(format!("account_id:    {}", created.account_id));
    }
    if let Some(profile) = profile {
        let slug = client.resolved().account_slug.clone();
        let saved = Saved {
            client_id: &created.client_id,
            secret: &created.client_secret,
            account_id: &created.account_id,
            account_slug: slug.as_deref(),
            api_url: client.api_url(),
        };
        save_profile(ctx, &store, profile, saved)?;
    }
    Ok(())
}

async fn list(ctx: &Context) -> Result<(), Failure> {
    let client = ctx.client(true).await?;
    let principals = client.list_service_principals().await?;
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({ "service_principals": principals }));
        return Ok(());
    }
    if principals.is_empty() {
        ctx.ui.message("This account has no service principals; create one with `komodo service-principal create`.");
        return Ok(());
    }
    let rows = principals
        .into_iter()
        .map(|p| vec![p.service_principal_id, p.name, p.client_id, p.description.unwrap_or_default(), p.created_at])
        .collect();
    ctx.ui.table(&["id", "name", "client id", "description", "created"], rows);
    Ok(())
}

async fn rotate(ctx: &Context, id: &str, profile: Option<&str>) -> Result<(), Failure> {
    let store = ctx.store()?;
    let client = ctx.client(true).await?;
    if let Some(profile) = profile {
        // The profile may already hold this principal: that one is replaced.
        let existing = client.list_service_principals().await?;
        let client_id = existing.iter().find(|p| p.service_principal_id == id).map(|p| p.client_id.as_str());
        check_new_profile(&store, profile, client_id.or(Some("")))?;
    }
    let rotated = client.rotate_service_principal_secret(id).await?;
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::to_value(&rotated).unwrap_or_default());
    } else {
        ctx.ui.message("New secret (shown only this once; the old one no longer works):\n");
        ctx.ui.data(format!("client_id:     {}", rotated.client_id));
        ctx.ui.data(format!("client_secret: {}", rotated.client_secret.expose_secret()));
    }
    if let Some(profile) = profile {
        let account_id = client.account_id().unwrap_or_default().to_owned();
        let slug = client.resolved().account_slug.clone();
        let saved = Saved {
            client_id: &rotated.client_id,
            secret: &rotated.client_secret,
            account_id: &account_id,
            account_slug: slug.as_deref(),
            api_url: client.api_url(),
        };
        save_profile(ctx, &store, profile, saved)?;
    }
    Ok(())
}
