//! First start: the CLI's public client, the first admin (with a one-time
//! password), the `demo` organisation and the `demo` account, and the demo
//! data set in its warehouse.

use komodo_protocol::iam::Role;
use komodo_protocol::oauth::CLI_CLIENT_ID;
use komodo_protocol::secret::Password;

use crate::config::Config;
use crate::crypto::random_token;
use crate::identity::password;
use crate::store::iam::ClientRow;
use crate::store::{Store, StoreError};

/// The redirect URIs registered for the CLI; any port is accepted on these
/// loopback addresses (RFC 8252 §7.3).
pub const CLI_REDIRECT_URIS: [&str; 2] = ["http://127.0.0.1/callback", "http://[::1]/callback"];

/// What the first start created; the password is shown once and must be
/// replaced at the first sign-in.
#[derive(Debug)]
pub struct BootstrapReport {
    /// The first admin's email.
    pub admin_email: String,
    /// The first admin's one-time password.
    pub admin_password: Password,
    /// The `demo` account's id.
    pub account_id: String,
}

/// Registers the CLI client and, on an empty store, creates the first admin
/// and the demo organisation and account.
pub(crate) async fn run(store: &Store, config: &Config) -> Result<Option<BootstrapReport>, StoreError> {
    store.upsert_client(&ClientRow::public(CLI_CLIENT_ID, "Komodo CLI", &CLI_REDIRECT_URIS)).await?;
    if !config.bootstrap || store.meta("bootstrapped").await?.is_some() {
        return Ok(None);
    }
    // A replica starting at the same moment loses this race and skips.
    match store.create_organization("demo", "Demo").await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    let account = store.create_account("demo", "demo", "Demo").await?;
    let one_time = Password::new(random_token::<15>());
    let hash = password::hash(&one_time).await;
    let user = store.create_user(&config.bootstrap_admin_email, Some("Administrator"), &hash).await?;
    store.set_password_change_required(&user.id, true).await?;
    store.upsert_membership(&account.id, &user.id, Role::Admin).await?;
    store.meta_insert_once("bootstrapped", &crate::clock::now().to_string()).await?;
    Ok(Some(BootstrapReport { admin_email: user.email, admin_password: one_time, account_id: account.id }))
}

/// Generates the demo data set (`DEMO.HEALTHCARE`) into an account's
/// warehouse directory, showing progress on standard error: a bar on a
/// terminal, a line per quarter otherwise.
pub async fn load_demo_into(
    engine: &komodo_warehouse::Engine,
    account_id: &str,
    options: komodo_warehouse::demo::DemoOptions,
) -> Result<komodo_warehouse::demo::DemoSummary, komodo_warehouse::WarehouseError> {
    use std::io::IsTerminal as _;
    let total: u64 = options.table_rows().iter().sum();
    let claims = options.claims;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} demo data {msg:>13} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        tracing::info!(account = %account_id, claims, rows = total, "generating demo data");
        None
    };
    let progress_bar = bar.clone();
    let mut quarter = 0;
    let summary = engine
        .load_demo(account_id, options, move |p| match &progress_bar {
            Some(bar) => {
                bar.set_message(p.table);
                bar.set_position(p.rows_done);
            }
            None => {
                let q = (p.rows_done * 4 / p.rows_total.max(1)) as u32;
                if q > quarter {
                    quarter = q;
                    eprintln!("demo data: {}% ({} of {} rows)", q * 25, p.rows_done, p.rows_total);
                }
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    tracing::info!(
        account = %account_id,
        rows = summary.rows,
        seconds = summary.elapsed.as_secs_f64(),
        "demo data loaded into DEMO.HEALTHCARE"
    );
    Ok(summary)
}
