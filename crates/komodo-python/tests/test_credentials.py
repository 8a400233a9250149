"""The seed's credential rules and sources, through the Python package."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

import komodo
from conftest import BROWSER_SCRIPT, write_credentials


def profile_text(name: str, sp: dict) -> str:
    return (
        f"[{name}]\nclient_id = {sp['client_id']}\nclient_secret = {sp['client_secret']}\n"
        f"account_id = {sp['account_id']}\naccount_slug = demo\n"
    )


# The seed's invalid examples, each with its documented error.
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(profile="production", client_id="x"), komodo.MixedAuthenticationMethodsError,
         "cannot mix authentication methods: `profile` cannot be combined with `client_id`"),
        (dict(profile="production", account_id="x"), komodo.ProfileWithAccountIdError,
         "cannot combine `profile` with `account_id`: the profile contains the account ID"),
        (dict(jwt="j", client_id="c", client_secret="s", account_id="a"), komodo.MixedAuthenticationMethodsError,
         "`jwt` cannot be combined with `client_id`"),
        (dict(client_id="c", account_id="a"), komodo.IncompleteClientCredentialsError,
         "`client_id` was given without `client_secret`"),
        (dict(jwt="j"), komodo.MissingAccountIdError, "`jwt` requires `account_id`"),
        (dict(client_id="c", client_secret="s"), komodo.MissingAccountIdError,
         "`client_id + client_secret` requires `account_id`"),
        (dict(profile=""), komodo.EmptyArgumentError, "`profile` is empty"),
    ],
)
def test_invalid_usage_raises_the_documented_value_error(home, kwargs, error, message):
    for call in (komodo.validate_arguments, komodo.Client):
        with pytest.raises(error) as raised:
            call(**kwargs)
        assert isinstance(raised.value, ValueError)
        assert message in str(raised.value)
    assert not (home / ".komodo").exists()


def test_explicit_client_credentials(home, platform):
    sp = platform.service_principal("py-explicit")
    client = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"])
    identity = client.identity()
    assert identity["jwt_type"] == "service_principal"
    assert identity["service_principal"]["client_id"] == sp["client_id"]
    assert client.account_id == sp["account_id"]
    assert "arguments: used" in client.provenance
    assert sp["client_secret"] not in repr(client) + client.provenance


def test_named_profiles(home, platform):
    production, development = platform.service_principal("py-prod"), platform.service_principal("py-dev")
    write_credentials(home, profile_text("production", production) + "\n" + profile_text("development", development))
    for name, sp in (("production", production), ("development", development)):
        client = komodo.Client(profile=name)
        assert client.identity()["service_principal"]["client_id"] == sp["client_id"]
    with pytest.raises(komodo.ProfileNotFoundError, match=r"available profiles: \[production\], \[development\]"):
        komodo.Client(profile="staging")


def test_jwt_and_account_id(home, platform):
    sp = platform.service_principal("py-jwt")
    token = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]).access_token()
    client = komodo.Client(jwt=token, account_id=sp["account_id"])
    assert client.access_token() == token
    assert client.identity()["jwt_type"] == "service_principal"


def test_default_profile_and_a_profile_holding_a_token(home, platform):
    sp = platform.service_principal("py-default")
    token = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]).access_token()
    write_credentials(home, f"[default]\ntoken = {token}\naccount_id = {sp['account_id']}\n")
    client = komodo.Client()
    assert "[default] profile: used" in client.provenance
    assert client.identity()["service_principal"]["client_id"] == sp["client_id"]
    with pytest.raises(komodo.ProfileError, match="named profiles only support service principal credentials"):
        komodo.Client(profile="default")


def test_environment_partial_set_names_the_missing_variable(home, monkeypatch):
    monkeypatch.setenv("KOMODO_CLIENT_ID", "abc")
    monkeypatch.setenv("KOMODO_ACCOUNT_ID", "acct")
    with pytest.raises(komodo.IncompleteClientCredentialsError, match="`KOMODO_CLIENT_ID` was given without `KOMODO_CLIENT_SECRET`"):
        komodo.Client()


def test_web_login_fallback_stays_in_memory_and_runs_once(home, platform, monkeypatch):
    """No credentials anywhere: the SDK logs in through the browser (headless
    Chromium driven by a script), once for all threads, and writes nothing."""
    platform.create_user("py-web@example.com", "a python passphrase")
    log = home / "browser.log"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSER_SCRIPT}")
    monkeypatch.setenv("KOMODO_TEST_EMAIL", "py-web@example.com")
    monkeypatch.setenv("KOMODO_TEST_PASSWORD", "a python passphrase")
    monkeypatch.setenv("KOMODO_TEST_BROWSER_LOG", str(log))
    results, errors = [], []

    def connect():
        try:
            results.append(komodo.Client().identity())
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=connect) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors
    assert [r["user"]["email"] for r in results] == ["py-web@example.com"] * 6
    # The browser script writes its log just after the SDK got the redirect.
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert log.read_text().splitlines() == ["Logged in"], "more than one browser login"
    assert not (home / ".komodo").exists(), "the web login wrote credentials"


def test_console_script_runs_the_rust_cli(home, platform):
    komodo_script = os.path.join(os.path.dirname(sys.executable), "komodo")
    version = subprocess.run([komodo_script, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"komodo {komodo.__version__}"
    sp = platform.service_principal("py-cli")
    write_credentials(home, profile_text("ci", sp))
    described = subprocess.run([komodo_script, "whoami", "--check", "--profile", "ci"], capture_output=True, text=True)
    assert described.returncode == 0, described.stderr
    assert "verified    service principal py-cli" in described.stdout
    missing = subprocess.run([komodo_script, "jwt"], capture_output=True, text=True)
    assert missing.returncode == 4, missing.stderr


def test_import_touches_no_global_state():
    code = (
        "import logging, sys, warnings\n"
        "filters = list(warnings.filters); handlers = list(logging.root.handlers)\n"
        "import komodo\n"
        "assert warnings.filters == filters, 'warning filters changed'\n"
        "assert logging.root.handlers == handlers, 'logging configured'\n"
        "assert 'asyncio' not in sys.modules and 'ssl' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
