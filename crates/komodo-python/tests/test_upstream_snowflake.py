"""An account whose warehouse is an upstream Snowflake account (fakesnow's
server, conftest's `upstream_account`), through the gateway: what only the
upstream backend does. The tests both backends share are parametrized
over them in test_warehouse.py and test_snowflake_connector.py
(`backend_sp`)."""

from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import urlsplit

import pytest
import snowflake.connector
from snowflake.connector import errors as sf_errors

import komodo
from conftest import REPO

CLI = REPO / "target" / "debug" / "komodo"


@pytest.fixture
def upstream_sp(platform, upstream_account, request) -> dict:
    return platform.service_principal(f"py-up-{request.node.name[:40]}", account=upstream_account)


@pytest.fixture
def env(home, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
    return home


def connector(platform, sp: dict):
    url = urlsplit(platform.url)
    client = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"])
    return snowflake.connector.connect(
        host=url.hostname, port=url.port, protocol=url.scheme, account=sp["account_id"],
        authenticator="oauth", token=client.access_token(), paramstyle="qmark",
    )


def test_the_upstream_holds_the_data_and_the_gateway_its_policy(env, platform, fakesnow, upstream_sp):
    with connector(platform, upstream_sp) as conn:
        cur = conn.cursor()
        cur.execute("create or replace table UPSTREAM_WRITES (ID int, NAME varchar)")
        cur.executemany("insert into UPSTREAM_WRITES values (?, ?)", [(1, "ada"), (2, "grace"), (3, "edsger")])
        assert cur.execute("select NAME from UPSTREAM_WRITES order by ID").fetchall() == [("ada",), ("grace",), ("edsger",)]
        for refused in ("use role accountadmin", "use warehouse BIG_WH", "alter session set query_tag = 'me'"):
            with pytest.raises(sf_errors.ProgrammingError) as raised:
                cur.execute(refused)
            assert raised.value.errno == 3001, refused
            assert raised.value.sqlstate == "42501"
        # PUT goes nowhere: the upstream's stages are not relayed.
        with pytest.raises(sf_errors.Error) as raised:
            cur.execute("PUT file:///etc/hostname @~")
        assert "upstream Snowflake" in str(raised.value)
    # The rows are the upstream's: a direct connection sees them.
    with fakesnow.connect() as direct:
        assert direct.cursor().execute("select count(*) from UPSTREAM_WRITES").fetchone() == (3,)


def test_the_package_and_the_cli_run_statements_upstream(env, platform, upstream_sp):
    with komodo.get_snowflake_connection(
        client_id=upstream_sp["client_id"], client_secret=upstream_sp["client_secret"], account_id=upstream_sp["account_id"]
    ) as conn:
        with conn.cursor() as cur:
            assert cur.execute("select count(*) from PATIENTS where STATE = ?", ["CA"]).fetchone() == (20,)
            with pytest.raises(komodo.ProgrammingError) as raised:
                cur.execute("use secondary roles all")
            assert raised.value.errno == 3001

    assert CLI.exists(), f"{CLI} is missing: build it with `cargo build -p komodo-cli`"
    cli_env = {
        **os.environ,
        "KOMODO_CLIENT_ID": upstream_sp["client_id"],
        "KOMODO_CLIENT_SECRET": upstream_sp["client_secret"],
        "KOMODO_ACCOUNT_ID": upstream_sp["account_id"],
    }
    out = subprocess.run(
        [str(CLI), "sql", "--output", "json", "select STATE, count(*) as N from PATIENTS group by STATE order by STATE"],
        env=cli_env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    rows = printed["rows"] if isinstance(printed, dict) else printed
    assert len(rows) == 5, printed

    who = subprocess.run([str(CLI), "whoami", "--check"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert who.returncode == 0, who.stderr
    assert "warehouse   snowflake (account fakesnow, warehouse COMPUTE_WH, role ANALYST)" in who.stdout, who.stdout
