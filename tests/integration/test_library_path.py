"""Integration test of the library path a user writes (the README's library example): Settings
from keyword values and a DC table written by a running sandbox (real port), a connection made
through the real web flow (the service in process, consent posted to the sandbox over HTTP), then
``TokenManager.from_settings`` and ``ZohoInvoice.for_connection`` listing and creating invoices;
the sandbox's clock moves past the access token's life and the next call refreshes by itself;
``AsyncZohoInvoice`` the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from flows import Connected, connected
from zoho_invoice import TokenManager, ZohoInvoice
from zoho_invoice.api import AsyncZohoInvoice
from zoho_invoice.tokens import AsyncTokenManager
from zoho_invoice_sandbox.invoice import seed_organization


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Connected]:
    with connected(
        tmp_path,
        client_id="1000.LIBRARYPATH",
        client_secret="library-path-secret",
        api_key="library-path-api-key-0123456789-abcdef",
        owner="user-42",
    ) as ready:
        seed_organization(
            ready.sandbox.world, ready.organization_id, contacts=5, items=3, invoices=15, seed=1
        )
        yield ready


def test_sync_client_lists_creates_and_refreshes_by_itself(world: Connected) -> None:
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


def test_async_client_lists_creates_and_refreshes_by_itself(world: Connected) -> None:
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
