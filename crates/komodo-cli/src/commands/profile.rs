//! `komodo profile list | show`.

use komodo::Error;
use komodo::credentials::{Profile, keys};
use komodo_protocol::secret::REDACTED;

use crate::Context;
use crate::cli::ProfileCommand;
use crate::output::{Failure, exit};

const SECRET_KEYS: &[&str] = &[keys::TOKEN, keys::REFRESH_TOKEN, keys::CLIENT_SECRET];

pub(crate) fn run(ctx: &Context, command: ProfileCommand) -> Result<(), Failure> {
    let store = ctx.store()?;
    let doc = store.read().map_err(Error::Credentials)?.unwrap_or_default();
    match command {
        ProfileCommand::List => {
            let mut rows = Vec::new();
            for name in doc.section_names() {
                let (kind, account, slug) = match Profile::from_document(&doc, name, store.path()) {
                    Ok(Some(Profile::Token(p))) => {
                        let kind = if p.token.is_some() || p.refresh_token.is_some() { "login" } else { "logged out" };
                        (kind.to_owned(), p.account_id, p.account_slug)
                    }
                    Ok(Some(Profile::ClientCredentials(p))) => {
                        ("service principal".to_owned(), p.account_id, p.account_slug)
                    }
                    Ok(None) => continue,
                    Err(err) => (format!("invalid: {err}"), None, None),
                };
                rows.push((name.to_owned(), kind, account.unwrap_or_default(), slug.unwrap_or_default()));
            }
            if ctx.ui.json() {
                let profiles: Vec<_> = rows
                    .iter()
                    .map(|(n, k, a, s)| serde_json::json!({"name": n, "kind": k, "account_id": a, "account_slug": s}))
                    .collect();
                ctx.ui.json_data(&serde_json::json!({ "path": store.path(), "profiles": profiles }));
            } else if rows.is_empty() {
                ctx.ui.message(format!("No profiles in {}; run `komodo login`.", store.path().display()));
            } else {
                let rows = rows.into_iter().map(|(n, k, a, s)| vec![n, k, a, s]).collect();
                ctx.ui.table(&["profile", "kind", "account id", "account"], rows);
            }
            Ok(())
        }
        ProfileCommand::Show { name } => {
            let Some(section) = doc.section(&name) else {
                let names: Vec<String> = doc.section_names().map(|n| format!("[{n}]")).collect();
                let hint = if names.is_empty() {
                    "the file has no profiles".to_owned()
                } else {
                    format!("profiles: {}", names.join(", "))
                };
                return Err(Failure::new(
                    exit::CONFIG,
                    format!("profile [{name}] not found in {}", store.path().display()),
                )
                .hint(hint));
            };
            let entries: Vec<(String, String)> = section
                .entries()
                .map(|(k, v, _)| {
                    let secret = SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) && !v.is_empty();
                    (k.to_owned(), if secret { REDACTED.to_owned() } else { v.to_owned() })
                })
                .collect();
            if ctx.ui.json() {
                let map: serde_json::Map<String, serde_json::Value> =
                    entries.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                ctx.ui.json_data(&serde_json::Value::Object(map));
            } else {
                ctx.ui.data(format!("[{name}]"));
                for (k, v) in entries {
                    ctx.ui.data(format!("{k} = {v}"));
                }
            }
            Ok(())
        }
    }
}
