//! Snapshots of help texts and of every error the CLI shows for bad
//! credentials, with the home directory and ports filtered out.

use crate::{Home, filter};

/// A platform address nothing listens on: none of these commands may need it.
const NOWHERE: &str = "http://127.0.0.1:9";

fn render(home: &Home, args: &[&str]) -> String {
    let run = home.run(args);
    filter(
        &format!(
            "$ komodo {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            run.code(),
            run.stdout(),
            run.stderr()
        ),
        home.dir.path(),
    )
}

#[test]
fn help_texts() {
    let home = Home::new(NOWHERE);
    for args in [
        &["--help"][..],
        &["login", "--help"],
        &["logout", "--help"],
        &["jwt", "--help"],
        &["account", "--help"],
        &["account", "set", "--help"],
        &["service-principal", "--help"],
        &["service-principal", "create", "--help"],
        &["auth", "describe", "--help"],
        &["profile", "--help"],
        &["sql", "--help"],
    ] {
        let name = format!("help_{}", args[..args.len() - 1].join("_")).trim_end_matches('_').to_owned();
        let name = if name == "help" { "help_komodo".to_owned() } else { name };
        insta::assert_snapshot!(name, render(&home, args));
    }
}

const LOGIN: &str = "[default]\ntoken = eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyOjEiLCJleHAiOjQxMDI0NDQ4MDB9.c2ln\n\
                     token_expiration = 4102444800\naccount_id = 123e4567-e89b-12d3-a456-426614174000\n\
                     account_slug = my-organization\n";

/// Each seed validation rule, as the CLI shows it (through the environment,
/// the CLI's way of passing explicit credentials).
#[test]
fn seed_rule_errors() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "rule1_jwt_with_client_credentials",
            &[
                ("KOMODO_ACCESS_TOKEN", "t"),
                ("KOMODO_CLIENT_ID", "c"),
                ("KOMODO_CLIENT_SECRET", "s"),
                ("KOMODO_ACCOUNT_ID", "a"),
            ],
        ),
        ("rule2_profile_with_credentials", &[("KOMODO_PROFILE", "production"), ("KOMODO_CLIENT_ID", "c")]),
        ("rule3_profile_with_account", &[("KOMODO_PROFILE", "production"), ("KOMODO_ACCOUNT_ID", "a")]),
        ("rule4_half_client_credentials", &[("KOMODO_CLIENT_ID", "c"), ("KOMODO_ACCOUNT_ID", "a")]),
        ("rule5_token_without_account", &[("KOMODO_ACCESS_TOKEN", "t")]),
        ("rule6_empty_value", &[("KOMODO_CLIENT_SECRET", "")]),
    ];
    for (name, env) in cases {
        let mut home = Home::new(NOWHERE);
        home.write_credentials(LOGIN);
        home.extra_env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let text = render(&home, &["account", "get"]);
        assert!(text.contains("exit: 3"), "{text}");
        insta::assert_snapshot!(*name, text);
    }
}

#[test]
fn credential_errors() {
    let home = Home::new(NOWHERE);
    insta::assert_snapshot!("login_required_no_file", render(&home, &["jwt"]));

    home.write_credentials("[default]\ntoken = expired\ntoken_expiration = 1000\naccount_id = a\n\n[production]\nclient_id = c\nclient_secret = s\naccount_id = 1\n");
    insta::assert_snapshot!("login_required_expired", render(&home, &["jwt"]));
    insta::assert_snapshot!("profile_not_found", render(&home, &["jwt", "--profile", "prod"]));
    insta::assert_snapshot!("profile_holds_token", render(&home, &["jwt", "--profile", "default"]));

    home.write_credentials("[default]\ntoken = eyJhbGciOiJFUzI1NiJ9.e30.c2ln\ntoken_expiration = 4102444800\n");
    insta::assert_snapshot!("unset_account", render(&home, &["account", "get"]));

    home.write_credentials("[default]\ntoken = a\ntoken = b\n");
    insta::assert_snapshot!("malformed_file", render(&home, &["account", "get"]));
    assert_eq!(home.read_credentials(), "[default]\ntoken = a\ntoken = b\n", "the malformed file was changed");

    let mut insecure = Home::new("http://platform.example.com");
    insecure.dir = tempfile::tempdir().unwrap();
    insecure.write_credentials(LOGIN);
    insta::assert_snapshot!("insecure_api_url", render(&insecure, &["auth", "describe"]));

    let home = Home::new(NOWHERE);
    home.write_credentials(LOGIN);
    insta::assert_snapshot!("login_with_profile", render(&home, &["login", "--profile", "ci"]));
    insta::assert_snapshot!("unknown_command", render(&home, &["accounts"]));
}

#[test]
fn connection_free_output() {
    let home = Home::new(NOWHERE);
    home.write_credentials(&format!(
        "{LOGIN}\n[production]\nclient_id = client_id_123456\nclient_secret = client_secret_123456\naccount_id = 123456789\naccount_slug = prod-org\n"
    ));
    std::fs::set_permissions(home.credentials(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    insta::assert_snapshot!("account_get", render(&home, &["account", "get"]));
    insta::assert_snapshot!("profile_list", render(&home, &["profile", "list"]));
    insta::assert_snapshot!("profile_show", render(&home, &["profile", "show", "production"]));
    insta::assert_snapshot!("describe_default", render(&home, &["auth", "describe"]));
    insta::assert_snapshot!(
        "describe_profile_json",
        render(&home, &["auth", "describe", "--profile", "production", "-o", "json"])
    );

    // A world-readable file is warned about, with the fix.
    std::fs::set_permissions(home.credentials(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    insta::assert_snapshot!("world_readable_warning", render(&home, &["account", "get"]));
}
