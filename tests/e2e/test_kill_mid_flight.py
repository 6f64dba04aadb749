"""End-to-end tests of crash safety (SECURITY 41): real ``zoho-invoice serve`` and ``zoho-invoice
worker`` processes, SIGKILLed at the worst moment of a refresh and of a connect, on SQLite and on
PostgreSQL (a schema of its own per test). Zoho is the sandbox on a real port, in this process.

The worst moment is "Zoho has acted, we have not written": the sandbox's
``Fault(delay_after=...)`` mints the tokens and then holds its answer, the test waits (polling the
sandbox's mint count with a deadline) until they exist, and kills the process while it waits for
them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from support import free_port, postgres_schema, wait_until_serving
from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.tokens import TokenManager
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.vault._models import ConnectionRow
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import Fault, RunningSandbox, running_sandbox

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
API_KEY = "kill-test-api-key-" + "0123456789abcdef" * 2
#: ZOHO_REFRESH_LEASE for the processes: a killed holder's lock dies with it, so the next
#: caller never waits for this (issue 9).
LEASE = 600.0
#: How long the sandbox holds a minted answer: far longer than the test needs to kill.
HOLD = 60.0
BOB = "bob@bluebird.example"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """``None`` (SQLite in the data directory) or PostgreSQL with a schema of its own."""
    if request.param == "sqlite":
        yield None
        return
    base = request.getfixturevalue("postgres_url")
    with postgres_schema(base, "kill") as url:
        yield url


@dataclass
class World:
    """The sandbox, the settings every process shares, and a way to start them."""

    sandbox: RunningSandbox
    settings: Settings
    tmp_path: Path

    def env(self) -> dict[str, str]:
        s = self.settings
        assert s.encryption_keys is not None and s.client_secret is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
        env.update(
            {
                "ZOHO_CLIENT_ID": str(s.client_id),
                "ZOHO_CLIENT_SECRET": s.client_secret.get_secret_value(),
                "ZOHO_REDIRECT_URI": str(s.redirect_uri),
                "ZOHO_ENCRYPTION_KEYS": s.encryption_keys.get_secret_value(),
                "ZOHO_API_KEY": API_KEY,
                "ZOHO_DATACENTERS": str(s.datacenters),
                "ZOHO_DATA_DIR": str(s.data_dir),
                "ZOHO_PUBLIC_URL": s.public_url,
                "ZOHO_REFRESH_LEASE": str(LEASE),
            }
        )
        if s.database_url:
            env["ZOHO_DATABASE_URL"] = s.database_url
        return env

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*CLI, *args],
            env=self.env(),
            cwd=self.tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def serve(self, port: int) -> subprocess.Popen[bytes]:
        process = self.start("serve", "--port", str(port))
        try:
            wait_until_serving(f"http://127.0.0.1:{port}", process, within=30)
        except AssertionError:
            raise AssertionError(_output(process)) from None
        return process

    def minted(self) -> int:
        return int(self.sandbox.world.accounts.stats()["access_tokens_minted"])

    def kill_once_minted(self, process: subprocess.Popen[bytes], before: int) -> float:
        """Wait until Zoho minted (the answer is being held), SIGKILL ``process``; the time."""
        deadline = time.monotonic() + 30
        while self.minted() == before:
            assert process.poll() is None, _output(process)
            assert time.monotonic() < deadline, "Zoho was never asked"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        return time.time()


class Request(threading.Thread):
    """An HTTP request in the background, to a process that will die while answering it."""

    def __init__(self, send: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._send = send
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._send()
        except BaseException as exc:
            self.error = exc

    def cut_off(self) -> None:
        """The request ended with the connection cut (no answer ever came)."""
        self.join(timeout=30)
        assert not self.is_alive()
        assert isinstance(self.error, httpx.TransportError), self.error


def _output(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None or process.stdout is None:
        return "(still running)"
    return process.stdout.read().decode(errors="replace")[-3000:]


def _settings(tmp_path: Path, sandbox: RunningSandbox, database_url: str | None, public: str):
    return Settings(
        client_id="1000.KILLTEST",
        client_secret="kill-test-client-secret",
        redirect_uri=public + "/callback",
        encryption_keys=KeyRing.generate_entry(),
        api_key=API_KEY,
        datacenters=tmp_path / "datacenters.json",
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=public,
        refresh_lease=LEASE,
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        data_dir=tmp_path / "sandbox", datacenters_out=tmp_path / "datacenters.json"
    ) as sb:
        yield sb


def _assert_whole(vault: Vault) -> None:
    """Every stored connection is a whole row: its sealed tokens open, its fields are set."""
    with vault.engine.connect() as conn:
        if vault.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        rows = conn.execute(select(ConnectionRow)).all()
    for row in rows:
        stored = vault.load_tokens(row.id)
        connection = vault.get_connection(row.id)
        assert connection.owner and connection.location and connection.api_domain
        if connection.status == "active":
            assert stored.access_token and stored.refresh_token and stored.access_expires_at


# -- a refresh killed after Zoho minted ---------------------------------------------------------


@pytest.mark.parametrize("killed", ["worker", "serve"])
def test_s41_refresh_killed_after_zoho_minted_loses_nothing(
    tmp_path: Path, sandbox: RunningSandbox, database_url: str | None, killed: str
) -> None:
    """A ``worker --once`` (or a ``serve`` answering POST .../access-token) holds the lease and
    waits for Zoho's answer to its refresh; Zoho has minted; the process is SIGKILLed.

    The row is as it was (old tokens, same version: the refresh token still works at Zoho, which
    does not rotate it). The dead process's refresh lock died with it (a PostgreSQL advisory lock
    of its session, a file lock on SQLite: issue 9), so the next caller refreshes at once, without
    waiting for the lease (``ZOHO_REFRESH_LEASE``, ten minutes here: no caller waits that long).
    The lost mint was counted before asking (SECURITY 33), so it is not forgotten either.
    """
    settings = _settings(tmp_path, sandbox, database_url, PUBLIC_URL)
    world = World(sandbox, settings, tmp_path)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
        connection_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="kill-r")
    vault = Vault.from_settings(settings)
    try:
        row = vault.load_tokens(connection_id)
        assert row.access_token is not None and row.refresh_token is not None
        # The stored access token has ended: whoever asks next must refresh.
        version = vault.store_refreshed(
            connection_id,
            expected_version=row.version,
            access_token=row.access_token,
            expires_at=time.time() - 1,
        )
        sandbox.world.faults.add("accounts.token", Fault(delay_after=HOLD))
        before = world.minted()
        asker: Request | None = None
        if killed == "worker":
            process = world.start("worker", "--once")
        else:
            port = free_port()
            process = world.serve(port)
            asker = Request(
                lambda: httpx.post(
                    f"http://127.0.0.1:{port}/api/connections/{connection_id}/access-token",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    timeout=HOLD,
                )
            )
        try:
            killed_at = world.kill_once_minted(process, before)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if asker is not None:
            asker.cut_off()

        # Nothing half-written: the row is exactly the one before the refresh.
        after = vault.load_tokens(connection_id)
        assert (after.access_token, after.refresh_token, after.version, after.status) == (
            row.access_token,
            row.refresh_token,
            version,
            "active",
        )
        _assert_whole(vault)
        assert vault.mints_since(connection_id, time.time() - 600) >= 1  # the lost mint counts
        # The next caller: a manager built from the same settings, as any process would.
        manager = TokenManager.from_settings(settings, vault=vault)
        token = manager.get_access_token(connection_id)
        assert token.token != row.access_token
        assert sandbox.world.authenticate(token.token) is not None
        refreshes = [
            e
            for e in sandbox.world.journal.entries("accounts.token")
            if ("grant_type", "refresh_token") in e.form
        ]
        assert len(refreshes) == 2
        assert refreshes[1].at >= killed_at - 1  # after the kill, though the lease still runs
        stored = vault.load_tokens(connection_id)
        assert (stored.access_token, stored.refresh_token, stored.version) == (
            token.token,
            row.refresh_token,
            version + 1,
        )
    finally:
        vault.close()


# -- a callback killed between consuming the state and storing the connection ------------------


def test_s41_callback_killed_after_the_code_exchange_leaves_no_half_connection(
    tmp_path: Path, sandbox: RunningSandbox, database_url: str | None
) -> None:
    """``serve`` consumed the flow's state and sent the code; Zoho minted the tokens; serve is
    SIGKILLed while their answer is held back.

    No connection row exists (nothing half-written), the state stays consumed (a replay of the
    callback, to a restarted serve, is refused without reaching Zoho), and the user's next connect
    works. What cannot be saved: the refresh token Zoho minted for the dead process stays live at
    Zoho, unknown to us (Zoho's limit of 20 per user and client absorbs such leftovers).
    """
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = _settings(tmp_path, sandbox, database_url, public)
    world = World(sandbox, settings, tmp_path)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    users = httpx.get(sandbox.base_url + "/_sandbox/users").json()["users"]
    bob = next(u["user_id"] for u in users if u["email"] == BOB)

    def to_callback(browser: httpx.Client) -> str:
        """A connect session, the redirect to Zoho, consent: the callback URL Zoho sends."""
        session = browser.post(
            public + "/api/connect-sessions", json={"owner": "kill-c"}, headers=auth
        )
        assert session.status_code == 201, session.text
        to_zoho = browser.get(session.json()["connect_url"])
        assert to_zoho.status_code == 303, to_zoho.text
        answer = browser.post(
            to_zoho.headers["location"], data={"user_id": bob, "decision": "approve"}
        )
        callback = str(answer.headers["location"])
        assert callback.startswith(public + "/callback?")
        return callback

    process = world.serve(port)
    try:
        with httpx.Client(follow_redirects=False, timeout=HOLD) as browser:
            callback = to_callback(browser)
            sandbox.world.faults.add("accounts.token", Fault(delay_after=HOLD))
            before = world.minted()

            finisher = Request(lambda: browser.get(callback))
            world.kill_once_minted(process, before)
            finisher.cut_off()

            vault = Vault.from_settings(settings)
            try:
                assert vault.list_connections() == []
                _assert_whole(vault)
            finally:
                vault.close()

            process = world.serve(port)
            exchanges = len(sandbox.world.journal.entries("accounts.token"))
            replay = browser.get(callback)
            assert replay.status_code == 400, replay.text
            assert len(sandbox.world.journal.entries("accounts.token")) == exchanges

            done = browser.get(to_callback(browser))
            assert done.status_code == 200, done.text
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)

    vault = Vault.from_settings(settings)
    try:
        [connection] = vault.list_connections()
        assert connection.owner == "kill-c" and connection.status == "active"
        _assert_whole(vault)
        stored = vault.load_tokens(connection.id)
        assert stored.access_token is not None
        assert sandbox.world.authenticate(stored.access_token) is not None
    finally:
        vault.close()
