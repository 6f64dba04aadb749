"""Integration tests of the access-token route as the hot path serves it (issue 9): the service
app with a real Vault on SQLite and the sandbox app playing Zoho, in process.

The route adds no database read of its own to the manager's (the connection's location is kept
by id), is called without FastAPI's parameter handling, and still documents itself, checks the
key and answers the same JSON.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event

from zoho_invoice.tokens import TokenManager

ROUTE = "/api/connections/{connection_id}/access-token"


def _connected(harness) -> str:
    assert harness.connect(owner="tenant-1", email="bob@bluebird.example").status_code == 200
    return str(harness.vault.list_connections(owner="tenant-1")[0].id)


@contextmanager
def _statements(harness) -> Iterator[list[str]]:
    """The SQL statements run on the vault's engine meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(harness.vault.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(harness.vault.engine, "before_cursor_execute", record)


def _fewest(harness, call: Callable[[], object], times: int = 5) -> int:
    """The fewest statements one call ran, over ``times`` calls (a cache's periodic re-check
    may fall on any one of them)."""
    counts = []
    for _ in range(times):
        with _statements(harness) as seen:
            call()
        counts.append(len(seen))
    return min(counts)


def test_a_fresh_token_costs_the_route_no_read_of_its_own(harness) -> None:
    cid = _connected(harness)
    manager: TokenManager = harness.app.state.context.manager
    first = harness.api("POST", f"/api/connections/{cid}/access-token")
    assert first.status_code == 200

    def route() -> None:
        answer = harness.api("POST", f"/api/connections/{cid}/access-token")
        assert answer.status_code == 200
        assert answer.json() == first.json()

    assert _fewest(harness, route) == _fewest(harness, lambda: manager.get_access_token(cid))


def test_the_answer_is_the_documented_json(harness) -> None:
    cid = _connected(harness)
    answer = harness.api("POST", f"/api/connections/{cid}/access-token")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_at", "api_domain"}
    assert body["token_type"] == "Zoho-oauthtoken"
    assert body["expires_at"].endswith("Z") or body["expires_at"].endswith("+00:00")


def test_s37_the_route_is_documented_behind_the_key(harness) -> None:
    spec = harness.app.openapi()
    operation = spec["paths"][ROUTE]["post"]
    assert operation["security"] == [{"apiKey": []}]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccessTokenOut"
    }
    assert {"404", "409", "500", "503"} <= set(operation["responses"])


def test_an_overlong_id_is_404_before_the_database(harness) -> None:
    with _statements(harness) as seen:
        answer = harness.api("POST", f"/api/connections/{'x' * 300}/access-token")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert seen == []


def test_concurrent_first_requests_for_an_id_read_its_connection_once() -> None:
    """A cold process under a burst: the connection's location is read once, not once per
    request (the first read is shared by every request for that id that comes meanwhile)."""
    from zoho_invoice.datacenters import DataCenterTable
    from zoho_invoice.web._api import ConnectionLocations

    reads: list[str] = []
    release = threading.Event()

    class Vault:
        def get_connection(self, connection_id: str) -> SimpleNamespace:
            reads.append(connection_id)
            release.wait(10)
            return SimpleNamespace(location="eu")

    table = DataCenterTable.builtin()
    fake_context = SimpleNamespace(vault=Vault(), datacenters=table)  # what the class reads
    locations = ConnectionLocations(fake_context, limit=10)  # type: ignore[arg-type]

    async def burst() -> list[str]:
        requests = [
            asyncio.ensure_future(locations.api_domain("c-1", "https://stored.example"))
            for _ in range(20)
        ]
        while not reads:  # every request has asked by the time the one read starts
            await asyncio.sleep(0.01)
        release.set()
        return list(await asyncio.gather(*requests))

    domains = asyncio.run(burst())
    assert reads == ["c-1"]
    assert set(domains) == {table.get("eu").api_domain}
