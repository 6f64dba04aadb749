"""Integration tests (sandbox on a real port, real SQLite vault, a real Redis URL with nothing
behind it): Redis is an accelerator, not a single point of failure (issue 9). With
``ZOHO_REDIS_URL`` pointing at a closed port and the token expired, many callers of two managers
(as two processes would be) get a fresh token from exactly one refresh (SECURITY 26, 27): the
database lock decides. ``/healthz`` answers 200 and says Redis is unavailable.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.testclient import TestClient

from flows import PUBLIC_URL, Connected, connected
from support import free_port
from zoho_invoice import Settings, TokenManager, Vault
from zoho_invoice.web import create_app

CALLERS = 8
SAFETY_NET = 60.0


def _redis_down(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})


def _expire(connection: Connected) -> str:
    vault = Vault.from_settings(connection.settings)
    try:
        row = vault.load_tokens(connection.connection_id)
        assert row.access_token is not None
        vault.store_refreshed(
            connection.connection_id,
            expected_version=row.version,
            access_token=row.access_token,
            expires_at=time.time() - 1,
        )
        return row.access_token
    finally:
        vault.close()


def test_s27_redis_down_still_refreshes_once(tmp_path: Path) -> None:
    with connected(tmp_path) as connection:
        settings = _redis_down(connection.settings)
        old = _expire(connection)
        before = connection.refresh_grants()
        managers = [TokenManager.from_settings(settings) for _ in range(2)]
        start = threading.Barrier(2 * CALLERS)
        tokens: list[str] = []
        errors: list[BaseException] = []
        guard = threading.Lock()

        def call(manager: TokenManager) -> None:
            start.wait(SAFETY_NET)
            try:
                token = manager.get_access_token(connection.connection_id).token
            except BaseException as exc:
                with guard:
                    errors.append(exc)
                return
            with guard:
                tokens.append(token)

        threads = [
            threading.Thread(target=call, args=(manager,))
            for manager in managers
            for _ in range(CALLERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SAFETY_NET)
            assert not thread.is_alive()

        assert errors == []
        assert len(tokens) == 2 * CALLERS and len(set(tokens)) == 1
        assert tokens[0] != old
        assert connection.sandbox.world.authenticate(tokens[0]) is not None
        assert connection.refresh_grants() - before == 1


def test_healthz_reports_redis_degraded_but_answers_200(tmp_path: Path) -> None:
    with connected(tmp_path) as connection:
        settings = _redis_down(connection.settings)
        old = _expire(connection)
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            health = web.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {
                "status": "degraded",
                "database": "ok",
                "redis": "unavailable",
            }
            # And the access-token route works meanwhile: 200 and a fresh token.
            assert settings.api_key is not None
            answer = web.post(
                f"/api/connections/{connection.connection_id}/access-token",
                headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["access_token"] != old


def test_healthz_says_ok_when_redis_answers(tmp_path: Path, redis_url: str) -> None:
    with connected(tmp_path) as connection:
        settings = connection.settings.model_copy(update={"redis_url": redis_url})
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            health = web.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}
