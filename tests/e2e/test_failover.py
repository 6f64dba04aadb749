"""End-to-end test of failover (issue 9; SECURITY 27, 28, 33): two real ``zoho-invoice serve``
processes share one database (a SQLite file, or PostgreSQL with a schema of its own); the one
refreshing a connection's token is SIGKILLed after Zoho minted, while the other is asked for the
same token. The other instance answers 200 with a valid token although ``ZOHO_REFRESH_LEASE`` is
ten minutes and callers wait at most 8 s: the dead holder's lock died with it, nobody waited for
its lease. Nothing is asserted about time; the lease makes "it waited for the lease" impossible.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from support import free_port, postgres_schema, wait_until_serving
from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import Fault, RunningSandbox, running_sandbox

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
API_KEY = "failover-test-api-key-" + "0123456789abcdef" * 2
LEASE = 600.0  # ZOHO_REFRESH_LEASE: far beyond what any caller waits
HOLD = 120.0  # how long the sandbox holds the dead holder's minted answer
SAFETY_NET = 60.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` (SQLite in the data directory) or PostgreSQL with a schema of its own."""
    if request.param == "sqlite":
        yield None
        return
    base = request.getfixturevalue("postgres_url")
    with postgres_schema(base, "failover") as url:
        yield url


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        data_dir=tmp_path / "sandbox", datacenters_out=tmp_path / "dcs.json"
    ) as running:
        yield running


def _env(settings: Settings) -> dict[str, str]:
    assert settings.encryption_keys is not None and settings.client_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env.update(
        {
            "ZOHO_CLIENT_ID": str(settings.client_id),
            "ZOHO_CLIENT_SECRET": settings.client_secret.get_secret_value(),
            "ZOHO_REDIRECT_URI": str(settings.redirect_uri),
            "ZOHO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "ZOHO_API_KEY": API_KEY,
            "ZOHO_DATACENTERS": str(settings.datacenters),
            "ZOHO_DATA_DIR": str(settings.data_dir),
            "ZOHO_PUBLIC_URL": settings.public_url,
            "ZOHO_REFRESH_LEASE": str(LEASE),
        }
    )
    if settings.database_url:
        env["ZOHO_DATABASE_URL"] = settings.database_url
    return env


def _serve(settings: Settings, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=_env(settings),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url, process, within=SAFETY_NET)
    return process, url


class Ask(threading.Thread):
    """``POST .../access-token`` in the background."""

    def __init__(self, url: str, connection_id: str) -> None:
        super().__init__(daemon=True)
        self._url, self._connection_id = url, connection_id
        self.answer: httpx.Response | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.answer = httpx.post(
                f"{self._url}/api/connections/{self._connection_id}/access-token",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=HOLD,
            )
        except BaseException as exc:
            self.error = exc

    def result(self) -> httpx.Response | BaseException | None:
        self.join(timeout=SAFETY_NET)
        assert not self.is_alive(), "no answer"
        return self.answer if self.answer is not None else self.error


def test_s27_a_sigkilled_refresher_is_taken_over_by_another_instance_without_its_lease(
    tmp_path: Path, sandbox: RunningSandbox, database_url: str | None
) -> None:
    settings = Settings(
        client_id="1000.FAILOVER",
        client_secret="failover-client-secret",
        redirect_uri=PUBLIC_URL + "/callback",
        encryption_keys=KeyRing.generate_entry(),
        api_key=API_KEY,
        datacenters=tmp_path / "dcs.json",
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=PUBLIC_URL,
        refresh_lease=LEASE,
    )
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
        connection_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="failover")
    vault = Vault.from_settings(settings)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        row = vault.load_tokens(connection_id)
        assert row.access_token is not None
        version = vault.store_refreshed(
            connection_id,
            expected_version=row.version,
            access_token=row.access_token,
            expires_at=time.time() - 1,
        )
        first, first_url = _serve(settings, tmp_path)
        second, second_url = _serve(settings, tmp_path)
        processes += [first, second]

        # The first instance refreshes; Zoho mints and holds its answer.
        sandbox.world.faults.add("accounts.token", Fault(delay_after=HOLD))
        minted = int(sandbox.world.accounts.stats()["access_tokens_minted"])
        dying = Ask(first_url, connection_id)
        deadline = time.monotonic() + SAFETY_NET
        while int(sandbox.world.accounts.stats()["access_tokens_minted"]) == minted:
            assert time.monotonic() < deadline, "Zoho was never asked"
            time.sleep(0.01)

        # The second instance is asked meanwhile; then the holder dies.
        waiting = Ask(second_url, connection_id)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=SAFETY_NET)
        assert isinstance(dying.result(), httpx.TransportError)

        answer = waiting.result()
        assert isinstance(answer, httpx.Response)
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        assert token != row.access_token
        assert sandbox.world.authenticate(token) is not None
        # Fenced and counted: one write after the dead one's, both mints recorded (SECURITY 28, 33).
        stored = vault.load_tokens(connection_id)
        assert (stored.access_token, stored.version) == (token, version + 1)
        assert vault.mints_since(connection_id, time.time() - 600) >= 2
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=SAFETY_NET)
        vault.close()
