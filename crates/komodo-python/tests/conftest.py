"""Fixtures: the real platform (`komodo-server`) on 127.0.0.1 with a
temporary data directory, its admin command, and a temporary HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVER = Path(os.environ.get("KOMODO_SERVER_BIN", REPO / "target" / "debug" / "komodo-server"))
BROWSER_SCRIPT = REPO / "crates" / "komodo-cli" / "tests" / "browser" / "chromium_login.py"

# A statement whose operators never wait on anything and that, in practice,
# never ends: a cross join of two generated series (10^12 rows) counted.
RUNAWAY = (
    "SELECT COUNT(*) FROM TABLE(GENERATE_SERIES(1, 1000000)) a CROSS JOIN TABLE(GENERATE_SERIES(1, 1000000)) b"
)


class Platform:
    """A running `komodo-server` and its admin command."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / "server.log", "w+b")
        self.process = subprocess.Popen(
            # The tests share the platform's file system: Snowflake's
            # connector may PUT and GET through a local stage.
            [str(SERVER), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), "--local-stage-transfers"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.log.seek(0)
            match = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", self.log.read())
            if match:
                return match.group(1).decode()
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError(f"komodo-server did not start: {self.log.read().decode(errors='replace')}")

    def admin(self, *args: str, stdin: str | None = None) -> dict:
        out = subprocess.run(
            [str(SERVER), "admin", "--data-dir", str(self.data_dir), "--output", "json", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout) if out.stdout.strip() else {}

    def create_user(self, email: str, password: str, account: str = "demo", role: str = "member") -> None:
        self.admin("create-user", "--email", email, "--password-stdin", stdin=password)
        self.admin("add-member", "--account", account, "--email", email, "--role", role)

    def service_principal(self, name: str, account: str = "demo") -> dict:
        return self.admin("create-service-principal", "--account", account, "--name", name)

    def warehouse_tasks(self) -> int:
        """Tasks of statements alive on the warehouse's threads (`/metrics`)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        match = re.search(r"^komodo_warehouse_active_tasks (\S+)$", text, re.M)
        assert match, "no komodo_warehouse_active_tasks in /metrics"
        return int(float(match.group(1)))

    def assert_warehouse_idle_within(self, seconds: float) -> None:
        """Fails unless the warehouse runs nothing within `seconds` (SECURITY.md F03)."""
        deadline = time.monotonic() + seconds
        while (tasks := self.warehouse_tasks()) > 0:
            assert time.monotonic() < deadline, f"{tasks} warehouse tasks alive {seconds} s after the statement ended"
            time.sleep(0.05)

    def other_account_service_principal(self) -> dict:
        """A service principal of an account of its own (created once)."""
        if not hasattr(self, "_other_sp"):
            self.admin("create-org", "--name", "Acme", "--slug", "acme")
            self.admin("create-account", "--org", "acme", "--name", "Acme", "--slug", "acme")
            self._other_sp = self.service_principal("other-account", account="acme")
        return self._other_sp

    def stop(self) -> None:
        # A graceful stop waits for running statements (a cancelled one
        # can still be finishing in the warehouse).
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


@pytest.fixture(scope="session")
def platform():
    if not SERVER.exists():
        pytest.fail(f"{SERVER} is missing: build it with `cargo build -p komodo-server` (./scripts/test does)")
    with tempfile.TemporaryDirectory() as tmp:
        running = Platform(Path(tmp) / "data")
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def home(tmp_path, monkeypatch, platform):
    """A temporary HOME, the platform's URL, and no other KOMODO_* variable."""
    for name in list(os.environ):
        if name.startswith("KOMODO_") or name == "BROWSER":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KOMODO_API_URL", platform.url)
    monkeypatch.setenv("BROWSER", "none")
    return tmp_path


def write_credentials(home: Path, text: str) -> Path:
    path = home / ".komodo" / "credentials"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


# -- an account whose warehouse is an upstream Snowflake account --------------
#
# The upstream is fakesnow's server (Snowflake's REST protocol over DuckDB),
# started on 127.0.0.1; the account reaches it through the gateway with the
# test key pair, as `komodo-server admin set-warehouse ... snowflake` sets it
# up for a real Snowflake account.

UPSTREAM_KEY = REPO / "crates" / "komodo-server" / "src" / "upstream" / "testdata" / "test_key.p8"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSnowflake:
    """fakesnow's server in a process of its own, seeded with a small
    DEMO.HEALTHCARE (PATIENTS and CLAIMS) like the embedded demo's."""

    def __init__(self, log_dir: Path) -> None:
        import socket
        import sys

        self.port = _free_port()
        self.log = open(log_dir / "fakesnow.log", "w+b")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            raise RuntimeError("fakesnow did not start")
        if self.process.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"fakesnow did not start: {self.log.read().decode(errors='replace')}")
        self.url = f"http://127.0.0.1:{self.port}"

    def connect(self, **kwargs):
        """A direct connection to the upstream (no gateway)."""
        import snowflake.connector

        os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
        os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
        return snowflake.connector.connect(
            user="fake", password="snow", account="fakesnow", host="127.0.0.1", port=self.port, protocol="http",
            database="DEMO", schema="HEALTHCARE", network_timeout=30, **kwargs,
        )

    def seed(self) -> None:
        states = ["CA", "NY", "TX", "WA", "FL"]
        with self.connect() as conn:
            cur = conn.cursor()
            cur.execute("create or replace table PATIENTS (PATIENT_ID int, STATE varchar, BIRTH_DATE date)")
            patients = ", ".join(
                f"({i}, '{states[i % len(states)]}', '19{50 + i % 40}-0{1 + i % 9}-1{i % 9}')" for i in range(1, 101)
            )
            cur.execute(f"insert into PATIENTS values {patients}")
            cur.execute(
                "create or replace table CLAIMS (CLAIM_ID int, SERVICE_DATE date, CLAIM_AMOUNT number(12, 2), "
                "PAID_AMOUNT number(12, 2), STATUS varchar)"
            )
            claims = ", ".join(
                f"({i}, '2024-0{1 + i % 9}-1{i % 9}', {i % 500}.25, {'NULL' if i % 7 == 0 else f'{i % 300}.50'}, "
                f"'{['PAID', 'DENIED', 'PENDING'][i % 3]}')"
                for i in range(1, 3001)
            )
            cur.execute(f"insert into CLAIMS values {claims}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def fakesnow(platform):
    running = FakeSnowflake(platform.data_dir.parent)
    try:
        running.seed()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def upstream_account(platform, fakesnow) -> str:
    """The slug of an account whose warehouse is the fakesnow upstream."""
    platform.admin("create-org", "--name", "Upstream", "--slug", "upstream-org")
    platform.admin("create-account", "--org", "upstream-org", "--name", "Upstream", "--slug", "upstream")
    shown = platform.admin(
        "set-warehouse", "--account", "upstream", "snowflake", "--host", fakesnow.url,
        "--account-name", "fakesnow", "--user", "fake", "--private-key-file", str(UPSTREAM_KEY),
        "--role", "ANALYST", "--warehouse", "COMPUTE_WH", "--database", "DEMO", "--schema", "HEALTHCARE",
    )
    assert shown["backend"] == "snowflake" and shown["snowflake"]["key_fingerprint"].startswith("SHA256:")
    assert "PRIVATE" not in json.dumps(shown)
    return "upstream"


@pytest.fixture(params=["embedded", "snowflake"])
def backend_sp(request, platform) -> dict:
    """A service principal of an account on each warehouse backend: the
    embedded warehouse (the demo account), then the fakesnow upstream."""
    if request.param == "embedded":
        return platform.service_principal(f"py-embedded-{request.node.name[:40]}")
    account = request.getfixturevalue("upstream_account")
    return platform.service_principal(f"py-upstream-{request.node.name[:40]}", account=account)
