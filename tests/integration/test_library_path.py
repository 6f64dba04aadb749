"""Integration test of the library path a user writes (the README's library example): Settings
from keyword values and a DC table written by a running sandbox (real port), a connection made
through the real web flow (the service in process, consent posted to the sandbox over HTTP), then
``TokenManager.from_settings`` and ``ZohoInvoice.for_connection`` listing and creating invoices;
the sandbox's clock moves past the access token's life and the next call refreshes by itself;
``AsyncZohoInvoice`` the same."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from starlette.testclient import TestClient

from zoho_invoice import Settings, TokenManager, ZohoInvoice
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice
from zoho_invoice.sandbox import running_sandbox
from zoho_invoice.sandbox.invoice import seed_organization
from zoho_invoice.tokens import AsyncTokenManager
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app

PUBLIC_URL = "http://127.0.0.1:8000"
API_KEY = "library-path-api-key-0123456789"
EMAIL = "bob@bluebird.example"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    settings: Settings
    connection_id: str
    organization_id: str
    clock: Clock
    sandbox: object

    def refresh_grants(self) -> int:
        entries = self.sandbox.world.journal.entries("accounts.token")  # type: ignore[attr-defined]
        return sum(1 for e in entries if ("grant_type", "refresh_token") in e.form)


def _connect(web: TestClient, base_url: str) -> str:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    session = web.post("/api/connect-sessions", json={"owner": "user-42"}, headers=auth)
    assert session.status_code == 201, session.text
    to_zoho = web.get(urlsplit(session.json()["connect_url"]).path, follow_redirects=False)
    url = to_zoho.headers["location"]
    assert url.startswith(base_url)
    with httpx.Client(follow_redirects=False) as browser:
        users = browser.get(base_url + "/_sandbox/users").json()["users"]
        user_id = next(u["user_id"] for u in users if u["email"] == EMAIL)
        answer = browser.post(url, data={"user_id": user_id, "decision": "approve"})
    callback = answer.headers["location"]
    assert callback.startswith(PUBLIC_URL + "/callback?")
    assert web.get(callback[len(PUBLIC_URL) :], follow_redirects=False).status_code == 200
    [conn] = web.get("/api/connections?owner=user-42", headers=auth).json()["connections"]
    return str(conn["id"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    dcs = tmp_path / "dcs.json"
    with running_sandbox(data_dir=tmp_path / "sandbox", clock=clock, datacenters_out=dcs) as sb:
        settings = Settings(
            client_id="1000.LIBRARYPATH",
            client_secret="library-path-secret",
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=dcs,
            data_dir=tmp_path / "data",
            public_url=PUBLIC_URL,
        )
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            conn_id = _connect(web, sb.base_url)
        bob = sb.world.directory.user_by_email(EMAIL)
        org_id = bob.organization_ids[0]
        seed_organization(sb.world, org_id, contacts=5, items=3, invoices=15, seed=1)
        yield World(settings, conn_id, org_id, clock, sb)


def test_sync_client_lists_creates_and_refreshes_by_itself(world: World) -> None:
    manager = TokenManager.from_settings(world.settings)
    with ZohoInvoice.for_connection(manager, world.connection_id) as zoho:
        assert zoho.organization_id == world.organization_id  # bound on connect (one org)
        listed = list(zoho.invoices.iter_all())
        assert len(listed) == 15
        customer = zoho.contacts.list().items[0]
        created = zoho.invoices.create(
            customer_id=customer.contact_id,
            line_items=[{"name": "Consulting", "rate": 150, "quantity": 2}],
        )
        assert str(created.total) in ("300", "300.0", "300.00")
        grants = world.refresh_grants()
        # Two hours later for Zoho: the stored access token is dead; the client refreshes once.
        world.clock.now += 2 * 3600
        again = zoho.invoices.list(per_page=50)
        assert created.invoice_id in {i.invoice_id for i in again.items}
        assert world.refresh_grants() == grants + 1


def test_async_client_lists_creates_and_refreshes_by_itself(world: World) -> None:
    manager = AsyncTokenManager(TokenManager.from_settings(world.settings))

    async def main() -> None:
        async with AsyncZohoInvoice.for_connection(manager, world.connection_id) as zoho:
            listed = [invoice async for invoice in zoho.invoices.iter_all()]
            assert len(listed) == 15
            customer = (await zoho.contacts.list()).items[0]
            created = await zoho.invoices.create(
                customer_id=customer.contact_id,
                line_items=[{"name": "Support", "rate": 40, "quantity": 1}],
            )
            grants = world.refresh_grants()
            world.clock.now += 2 * 3600
            page = await zoho.invoices.list(per_page=50)
            assert created.invoice_id in {i.invoice_id for i in page.items}
            assert world.refresh_grants() == grants + 1

    anyio.run(main)
