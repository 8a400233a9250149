//! `komodo auth describe` (alias `komodo whoami`).

use base64::Engine as _;
use komodo::auth::{Credential, TokenState, format_time};
use komodo::{Client, Error, platform};
use komodo_protocol::iam::JwtType;

use crate::Context;
use crate::cli::DescribeArgs;
use crate::output::Failure;

/// Claims read from a JWT's payload without verifying it: for display only.
#[derive(Debug, Default, serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    exp: Option<u64>,
}

fn claims(token: &str) -> Claims {
    token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub(crate) async fn describe(ctx: &Context, args: DescribeArgs) -> Result<(), Failure> {
    let resolved = ctx.resolve(false).await?;
    let api_url = platform::api_url(ctx.config.env(), resolved.api_url.as_deref()).map_err(Error::Platform)?;
    let (source, detail) = resolved.provenance.winner().map(|(s, d)| (s.to_string(), d.to_owned())).unwrap_or_default();
    let shadowed: Vec<String> = resolved.provenance.shadowed().map(|(s, d)| format!("{s} ({d})")).collect();
    let now = ctx.config.clock().now();

    let (kind, identity, expires) = match &resolved.credential {
        Credential::Token { access_token, expires_at, .. } => {
            let c = claims(access_token.expose_secret());
            let who = match (c.sub, c.email) {
                (Some(sub), Some(email)) => format!("{email} ({sub})"),
                (Some(sub), None) => sub,
                _ => "unknown (the token is not a JWT)".to_owned(),
            };
            let at = expires_at.or(c.exp.map(komodo::auth::from_unix_seconds));
            let expiry = at.map(|at| {
                let state = match TokenState::at(Some(at), now) {
                    TokenState::Expired => " (expired)",
                    TokenState::Expiring => " (expires soon)",
                    TokenState::Fresh => "",
                };
                format!("{}{state}", format_time(at))
            });
            ("token", who, expiry)
        }
        Credential::ClientCredentials { client_id, .. } => {
            ("client credentials", format!("service principal with client id {client_id}"), None)
        }
    };

    let mut verified = None;
    let mut warehouse = None;
    if args.check {
        let client = Client::from_resolved(ctx.config.clone(), resolved.clone())?;
        let identity = client.identity().await?;
        if resolved.account_id.is_some() {
            let shown = client.warehouse().await?;
            warehouse = Some(match &shown.snowflake {
                Some(up) => {
                    let mut text = format!("snowflake (account {}", up.account_name);
                    if let Some(wh) = &up.warehouse {
                        text.push_str(&format!(", warehouse {wh}"));
                    }
                    if let Some(role) = &up.role {
                        text.push_str(&format!(", role {role}"));
                    }
                    text + ")"
                }
                None => shown.backend.clone(),
            });
        }
        verified = Some(match (identity.jwt_type, &identity.user, &identity.service_principal) {
            (JwtType::User, Some(user), _) => format!("user {} ({})", user.email, user.user_id),
            (JwtType::ServicePrincipal, _, Some(sp)) => {
                format!("service principal {} ({}) of account {}", sp.name, sp.service_principal_id, sp.account_id)
            }
            _ => "an identity this client does not know".to_owned(),
        });
    }

    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({
            "source": source,
            "detail": detail,
            "shadowed": shadowed,
            "credential": kind,
            "identity": identity,
            "account_id": resolved.account_id,
            "account_slug": resolved.account_slug,
            "expires_at": expires,
            "api_url": api_url.as_str(),
            "verified": verified,
            "warehouse": warehouse,
        }));
        return Ok(());
    }
    let mut rows = vec![
        ("source", format!("{source} ({detail})")),
        ("credential", kind.to_owned()),
        ("identity", identity),
        (
            "account",
            match (&resolved.account_id, &resolved.account_slug) {
                (Some(id), Some(slug)) => format!("{id} ({slug})"),
                (Some(id), None) => id.clone(),
                _ => "none selected (run `komodo account set`)".to_owned(),
            },
        ),
    ];
    if let Some(expires) = expires {
        rows.push(("expires", expires));
    }
    rows.push(("platform", api_url.to_string()));
    for shadow in &shadowed {
        rows.push(("shadows", shadow.clone()));
    }
    if let Some(verified) = verified {
        rows.push(("verified", verified));
    }
    if let Some(warehouse) = warehouse {
        rows.push(("warehouse", warehouse));
    }
    for (key, value) in rows {
        ctx.ui.data(format!("{key:<11} {value}"));
    }
    Ok(())
}
