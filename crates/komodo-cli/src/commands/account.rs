//! `komodo account get | list | set`.

use komodo::Error;
use komodo::auth::AuthError;
use komodo_protocol::iam::{Account, UserMe};

use crate::Context;
use crate::cli::AccountCommand;
use crate::output::{Failure, exit};

pub(crate) async fn run(ctx: &Context, command: AccountCommand) -> Result<(), Failure> {
    match command {
        AccountCommand::Get => get(ctx).await,
        AccountCommand::List => list(ctx).await,
        AccountCommand::Set { account } => set(ctx, account).await,
    }
}

/// The selected account, from the credentials the chain picks; no network
/// call unless a token must be refreshed.
async fn get(ctx: &Context) -> Result<(), Failure> {
    let resolved = ctx.resolve(true).await?;
    let Some(account_id) = resolved.account_id else {
        return Err(Failure::from(Error::Auth(AuthError::UnsetAccount { provenance: resolved.provenance })));
    };
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({ "account_id": account_id, "account_slug": resolved.account_slug }));
    } else {
        match &resolved.account_slug {
            Some(slug) => ctx.ui.data(format!("{account_id} ({slug})")),
            None => ctx.ui.data(&account_id),
        }
    }
    Ok(())
}

fn accounts(me: &UserMe) -> Vec<(&str, &Account)> {
    me.organizations.iter().flat_map(|o| o.accounts.iter().map(move |a| (o.slug.as_str(), a))).collect()
}

async fn list(ctx: &Context) -> Result<(), Failure> {
    let client = ctx.client(false).await?;
    let me = client.me().await?;
    let current = client.account_id();
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::to_value(&me.organizations).unwrap_or_default());
        return Ok(());
    }
    let rows = accounts(&me)
        .into_iter()
        .map(|(org, a)| {
            let marker = if Some(a.account_id.as_str()) == current { "*" } else { "" };
            vec![
                marker.to_owned(),
                a.slug.clone(),
                a.name.clone(),
                org.to_owned(),
                a.role.as_str().to_owned(),
                a.account_id.clone(),
            ]
        })
        .collect::<Vec<_>>();
    if rows.is_empty() {
        ctx.ui.message(format!("{} belongs to no account yet; ask an account admin to add you.", me.email));
        return Ok(());
    }
    ctx.ui.table(&["", "account", "name", "organization", "role", "account id"], rows);
    Ok(())
}

async fn set(ctx: &Context, wanted: Option<String>) -> Result<(), Failure> {
    ctx.default_only("account set")?;
    let client = ctx.client(false).await?;
    let me = client.me().await?;
    let all = accounts(&me);
    if all.is_empty() {
        return Err(Failure::new(exit::REFUSED, format!("{} belongs to no account", me.email))
            .hint("ask an account admin to add you"));
    }
    let chosen: &Account = match wanted {
        Some(wanted) => {
            let found = all.iter().find(|(_, a)| a.account_id == wanted || a.slug.eq_ignore_ascii_case(&wanted));
            match found {
                Some((_, account)) => account,
                None => {
                    let names: Vec<String> = all.iter().map(|(_, a)| a.slug.clone()).collect();
                    return Err(Failure::new(exit::REFUSED, format!("you have no account {wanted:?}"))
                        .hint(format!("your accounts: {}", names.join(", "))));
                }
            }
        }
        None if ctx.ui.can_prompt() => {
            let items: Vec<String> = all.iter().map(|(org, a)| format!("{} ({}, {org})", a.slug, a.name)).collect();
            let default = all.iter().position(|(_, a)| Some(a.account_id.as_str()) == client.account_id()).unwrap_or(0);
            let index = dialoguer::Select::new()
                .with_prompt("Choose the account to act on")
                .items(&items)
                .default(default)
                .interact_opt()
                .map_err(|e| Failure::new(exit::FAILURE, format!("cannot prompt: {e}")))?;
            match index {
                Some(index) => all[index].1,
                None => return Err(Failure::new(exit::INTERRUPTED, "no account chosen")),
            }
        }
        None => {
            let names: Vec<String> = all.iter().map(|(_, a)| a.slug.clone()).collect();
            return Err(Failure::new(exit::USAGE, "no account given, and there is no terminal to choose one in")
                .hint(format!("run `komodo account set ACCOUNT` with one of: {}", names.join(", "))));
        }
    };
    komodo::login::select_account(&ctx.config, chosen)?;
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({ "account_id": chosen.account_id, "account_slug": chosen.slug }));
    }
    ctx.ui.success(format!("Now acting on account {} ({})", chosen.slug, chosen.account_id));
    Ok(())
}
