"""Fixtures of the acceptance suite for Komodo Health's own SDK (`komodo`
3.4.4 from PyPI, unmodified): a virtual environment of its own with the
package installed, a platform configured as an organisation adopting it
would configure it, and a way to run the SDK's CLI and Python against it
through the `sitecustomize` shim in `shim/` (hosts and scheme rewritten,
nothing else).

The virtual environment is kept in `target/komodo-health-sdk-venv` (or
`KOMODO_SDK_VENV`) and reused while it holds the pinned version.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVER = Path(os.environ.get("KOMODO_SERVER_BIN", REPO / "target" / "debug" / "komodo-server"))
SHIM = Path(__file__).resolve().parent / "shim"
VENV = Path(os.environ.get("KOMODO_SDK_VENV", REPO / "target" / "komodo-health-sdk-venv"))

#: The release of Komodo Health's SDK this suite holds the platform to.
SDK_VERSION = "3.4.4"
#: What the SDK has compiled in for its `production` environment.
SDK_CLIENT_ID = "mkxXDmAae54idV6TIpviUfq2ySuRdC9Y"
SDK_AUDIENCE = "https://komodohealth-platform.us.auth0.com/api/v2/"
SDK_ISSUER = "https://auth.komodohealth.com/"

EMAIL = "analyst@example.com"
PASSWORD = "correct horse battery staple"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _installed_version() -> str | None:
    if not _venv_python().exists():
        return None
    probe = subprocess.run(
        [str(_venv_python()), "-c", "import importlib.metadata as m; print(m.version('komodo'))"],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


@pytest.fixture(scope="session")
def sdk_venv() -> Path:
    """A virtual environment with `komodo==3.4.4` (and its dependencies)
    from PyPI."""
    if _installed_version() != SDK_VERSION:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(_venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"komodo=={SDK_VERSION}"],
            check=True,
        )
    assert _installed_version() == SDK_VERSION
    return VENV


class SdkPlatform:
    """`komodo-server` as an organisation adopting the SDK runs it: the
    SDK's issuer and audience, RS256 keys, the SDK's client id registered,
    and a user who is a member of the `demo` account."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / "server.log", "w+b")
        self.process = subprocess.Popen(
            [
                str(SERVER),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir),
                "--issuer",
                SDK_ISSUER,
                "--audience",
                SDK_AUDIENCE,
                "--signing-alg",
                "RS256",
                "--demo-claims",
                "2000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.url = self._wait_for_url()
        self.client = self.admin(
            "create-client",
            "--client-id",
            SDK_CLIENT_ID,
            "--name",
            "Komodo Health SDK",
            "--public",
            "--grant",
            "device",
        )
        self.admin("create-user", "--email", EMAIL, "--password-stdin", stdin=PASSWORD)
        self.account_id = self.admin("add-member", "--account", "demo", "--email", EMAIL, "--role", "admin")["account_id"]

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 120
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

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


@pytest.fixture(scope="session")
def sdk_platform():
    if not SERVER.exists():
        pytest.fail(f"{SERVER} is missing: build it with `cargo build -p komodo-server` (./scripts/test does)")
    with tempfile.TemporaryDirectory() as tmp:
        running = SdkPlatform(Path(tmp) / "data")
        try:
            yield running
        finally:
            running.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


class Browser:
    """A person at the verification page: a cookie jar and forms posted
    over HTTP to the platform (redirects are taken by their path, since
    the platform names itself by the SDK's issuer)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _url(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return self.base + parts.path + (f"?{parts.query}" if parts.query else "")

    def request(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(urllib.request.Request(self._url(url), data=data), timeout=30) as response:
                return response.status, response.read().decode(), response.headers.get("location", "")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace"), err.headers.get("location", "")

    @staticmethod
    def field(html: str, name: str) -> str:
        match = re.search(r'<input[^>]*name="' + re.escape(name) + r'"[^>]*value="([^"]*)"', html)
        assert match, f"no field {name} in {html[:500]}"
        return match.group(1)

    def approve_device(self, user_code: str, email: str, password: str) -> None:
        _, page, _ = self.request("/activate")
        status, body, login = self.request("/activate", {"csrf": self.field(page, "csrf"), "user_code": user_code})
        assert status == 303, f"activate: {status} {body[:500]}"
        _, page, _ = self.request(login)
        status, body, consent = self.request(
            "/oauth/login",
            {"request": self.field(page, "request"), "csrf": self.field(page, "csrf"), "email": email, "password": password},
        )
        assert status == 303, f"login: {status} {body[:500]}"
        _, page, _ = self.request(consent)
        status, body, done = self.request(
            "/oauth/consent",
            {"request": self.field(page, "request"), "csrf": self.field(page, "csrf"), "decision": "approve"},
        )
        assert status == 303 and "approved" in done, f"consent: {status} {done} {body[:500]}"


class Sdk:
    """Runs the SDK's CLI and Python in its virtual environment, with a
    home of its own and the shim pointing it at the platform."""

    def __init__(self, venv: Path, platform: SdkPlatform, home: Path) -> None:
        self.venv = venv
        self.platform = platform
        self.home = home
        self.env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(home),
            "PYTHONPATH": str(SHIM),
            "KOMODO_TEST_PLATFORM_URL": platform.url,
            # No browser to open, no colours or wrapping in what it prints.
            "BROWSER": "true",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "COLUMNS": "250",
            "NO_PROXY": "127.0.0.1,localhost",
            "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true",
        }

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / "komodo"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def spawn(self, *args: str, terminal: bool = False, **kwargs) -> subprocess.Popen:  # noqa: ANN003 - Popen's
        """Starts the CLI; with `terminal`, as on a terminal that understands
        escape sequences (for its interactive prompts)."""
        env = {**self.env, "TERM": "xterm"} if terminal else self.env
        return subprocess.Popen([str(self.venv / "bin" / "komodo"), *args], env=env, **kwargs)

    def python(self, code: str, timeout: float = 180) -> str:
        """Runs `code` with the SDK's Python; its standard output (fails
        the test with its standard error when it fails)."""
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"SDK Python failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    @property
    def credentials(self) -> Path:
        return self.home / ".komodo" / "credentials"


@pytest.fixture(scope="session")
def sdk(sdk_venv, sdk_platform, tmp_path_factory) -> Sdk:
    return Sdk(sdk_venv, sdk_platform, tmp_path_factory.mktemp("sdk-home"))
