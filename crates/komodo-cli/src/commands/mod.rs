//! The commands: each takes the [`Context`] and its arguments.

mod account;
mod auth;
mod load;
mod login;
mod profile;
mod service_principal;
mod sql;

use clap::CommandFactory;
use komodo::auth::{Credential, REFRESH_WINDOW, format_time};

use crate::cli::{AuthCommand, Cli, Command, OutputFormat};
use crate::output::{Failure, exit};
use crate::{Context, reads_credentials};

pub(crate) async fn dispatch(ctx: &Context, command: Command) -> Result<(), Failure> {
    if reads_credentials(&command)
        && let Ok(store) = ctx.store()
    {
        for warning in store.permission_warnings() {
            ctx.ui.warn(warning);
        }
    }
    if ctx.ui.format == OutputFormat::Csv && !matches!(command, Command::Sql(_)) {
        return Err(Failure::new(exit::USAGE, "`--output csv` is only for `komodo sql`")
            .hint("use --output table or --output json"));
    }
    match command {
        Command::Login(args) => login::login(ctx, args).await,
        Command::Logout => login::logout(ctx).await,
        Command::Jwt => jwt(ctx).await,
        Command::Account(command) => account::run(ctx, command).await,
        Command::ServicePrincipal(command) => service_principal::run(ctx, command).await,
        Command::Auth(AuthCommand::Describe(args)) | Command::Whoami(args) => auth::describe(ctx, args).await,
        Command::Profile(command) => profile::run(ctx, command),
        Command::Sql(args) => sql::run(ctx, args).await,
        Command::Load(args) => load::run(ctx, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "komodo", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// `komodo jwt`: the access token and nothing else on stdout.
async fn jwt(ctx: &Context) -> Result<(), Failure> {
    let client = ctx.client(false).await?;
    let tokens = client.token_set().await?;
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({
            "access_token": tokens.access_token.expose_secret(),
            "expires_at": tokens.expires_at.map(komodo::auth::unix_seconds),
            "account_id": client.account_id(),
        }));
    } else {
        ctx.ui.data(tokens.access_token.expose_secret());
    }
    let now = ctx.config.clock().now();
    if let Some(at) = tokens.expires_at
        && at <= now + REFRESH_WINDOW
        && !matches!(client.resolved().credential, Credential::ClientCredentials { .. })
    {
        ctx.ui.warn(format!("this token expires soon, at {}", format_time(at)));
    }
    Ok(())
}
