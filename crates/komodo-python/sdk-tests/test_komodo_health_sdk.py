"""Komodo Health's SDK (`komodo` 3.4.4 from PyPI, unmodified, its hosts
and scheme rewritten to the platform) against the platform, as a new user
would use it: `komodo login` (the device flow, approved through
`/activate`), `komodo jwt`, `komodo account get` and `set`, `komodo
service-principal create`, and `get_snowflake_connection()` with the
login, a profile, client credentials and a JWT, each running a SELECT on
DEMO.HEALTHCARE.

The tests run in order and build on each other (the login first)."""

from __future__ import annotations

import base64
import configparser
import json
import os
import pty
import re
import select
import subprocess
import time

from conftest import EMAIL, PASSWORD, SDK_AUDIENCE, SDK_CLIENT_ID, SDK_ISSUER, Browser

COUNT = "SELECT COUNT(*) FROM DEMO.HEALTHCARE.PATIENTS"

state: dict[str, str] = {}


def claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def read_credentials(sdk) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(sdk.credentials)
    return config


def test_login_runs_the_device_flow_approved_at_activate(sdk, sdk_platform):
    login = sdk.spawn("login", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    code = None
    deadline = time.monotonic() + 60
    assert login.stdout is not None
    while code is None and time.monotonic() < deadline:
        line = login.stdout.readline()
        if not line:
            break
        output += line
        match = re.search(r"user_code=([A-Z]{4}-[A-Z]{4})", line)
        code = match.group(1) if match else None
    assert code, f"no user code in what `komodo login` printed:\n{output}"
    assert "https://auth.komodohealth.com/activate" in output, output
    Browser(sdk_platform.url).approve_device(code, EMAIL, PASSWORD)
    rest, _ = login.communicate(timeout=60)
    output += rest
    assert login.returncode == 0, output
    assert "Success! Credentials written" in output, output
    assert "Using account: demo" in output, "one account: chosen at login\n" + output
    section = read_credentials(sdk)["production"]
    token = section["token"]
    assert int(section["token_expiration"]) > time.time() + 3000, "an hour's token"
    assert section["account_id"] == sdk_platform.account_id
    got = claims(token)
    assert (got["iss"], got["aud"], got["client_id"]) == (SDK_ISSUER, SDK_AUDIENCE, SDK_CLIENT_ID)
    state["token"] = token


def test_jwt_prints_the_login_token(sdk):
    done = sdk.cli("jwt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert state["token"] in done.stdout.replace("\n", ""), "no refresh: the token has more than 15 minutes left"


def test_account_get_names_the_account(sdk, sdk_platform):
    done = sdk.cli("account", "get")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sdk_platform.account_id in done.stdout.replace("\n", "") or "Copied account id" in done.stdout, done.stdout


def test_account_set_selects_the_account_and_passes_the_access_check(sdk, sdk_platform):
    # The account list is an interactive prompt: answer it on a terminal.
    leader, follower = pty.openpty()
    process = sdk.spawn("account", "set", terminal=True, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    answered = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if b"\x1b[6n" in chunk:
                os.write(leader, b"\x1b[1;1R")  # the terminal answers the cursor position request
            if not answered and b"Select an account" in output:
                time.sleep(0.5)
                os.write(leader, b"\r")
                answered = True
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    assert process.returncode == 0, text
    assert "Account set to: demo" in text, text
    assert "Failed to check account access" not in text, text
    assert "not properly configured" not in text, text
    assert read_credentials(sdk)["production"]["account_id"] == sdk_platform.account_id


def test_service_principal_create_prints_its_credentials(sdk):
    done = sdk.cli("service-principal", "create", "--name", "nightly-etl", "--description", "nightly loads")
    assert done.returncode == 0, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    match = re.search(r"Client ID: (\S+) Client Secret: (\S+)", text)
    assert match, text
    state["client_id"], state["client_secret"] = match.group(1), match.group(2)
    assert state["client_secret"].startswith("kmd_sp_")


def run_select(sdk, arguments: str) -> int:
    out = sdk.python(
        "from komodo.snowflake.snowflake import get_snowflake_connection\n"
        f"conn = get_snowflake_connection({arguments})\n"
        "cur = conn.cursor()\n"
        f"cur.execute({COUNT!r})\n"
        "print('COUNT', cur.fetchone()[0])\n"
        "conn.close()\n"
    )
    match = re.search(r"COUNT (\d+)", out)
    assert match, out
    return int(match.group(1))


def test_get_snowflake_connection_with_the_login(sdk):
    state["count"] = str(run_select(sdk, ""))
    assert int(state["count"]) > 0


def test_get_snowflake_connection_with_a_profile(sdk, sdk_platform):
    config = read_credentials(sdk)
    config["etl"] = {
        "client_id": state["client_id"],
        "client_secret": state["client_secret"],
        "account_id": sdk_platform.account_id,
    }
    with open(sdk.credentials, "w") as f:
        config.write(f)
    assert run_select(sdk, "profile='etl'") == int(state["count"])


def test_get_snowflake_connection_with_client_credentials(sdk, sdk_platform):
    arguments = f"client_id={state['client_id']!r}, client_secret={state['client_secret']!r}, account_id={sdk_platform.account_id!r}"
    assert run_select(sdk, arguments) == int(state["count"])


def test_get_snowflake_connection_with_a_jwt_and_an_account_id(sdk, sdk_platform):
    arguments = f"jwt={state['token']!r}, account_id={sdk_platform.account_id!r}"
    assert run_select(sdk, arguments) == int(state["count"])


def test_the_sdks_identity_models_parse_the_identity_answer(sdk, sdk_platform):
    session = f"Session(client_id={state['client_id']!r}, client_secret={state['client_secret']!r})"
    out = sdk.python(
        "from komodo.client import Client\n"
        "from komodo.auth.Session import Session\n"
        f"me = Client(auth_session={session}, account_id={sdk_platform.account_id!r}).iam.get_current_identity()\n"
        "sp = me.service_principal\n"
        "print('SP', sp.service_principal_id, sp.client_id, repr(sp.description), sp.created_at.year, sp.updated_at.year)\n"
    )
    assert f" {state['client_id']} 'nightly loads' " in out, out
