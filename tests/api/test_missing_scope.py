"""Integration tests: an endpoint the connection's token lacks the scope for answers
``MissingScopeError`` without spending Zoho's refresh budget (10 tokens per 10 minutes), so the
connection's in-scope calls keep working. Real TokenManager and vault, a connection made through
the real flow, the sandbox on a real port (SECURITY 35: one refresh, one retry at most)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from flows import Connected, connected
from zoho_invoice import MissingScopeError, TokenManager, ZohoInvoice
from zoho_invoice.api import AsyncZohoInvoice
from zoho_invoice.tokens import AsyncTokenManager
from zoho_invoice_sandbox.invoice import seed_organization

# Invoices and settings, but not contacts.
NARROW = ["ZohoInvoice.settings.ALL", "ZohoInvoice.invoices.ALL"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Connected]:
    with connected(tmp_path, scopes=NARROW) as ready:
        seed_organization(ready.sandbox.world, ready.organization_id, contacts=2, invoices=3)
        yield ready


def test_s35_under_scoped_calls_refresh_at_most_once_then_in_scope_calls_work(
    world: Connected,
) -> None:
    manager = TokenManager.from_settings(world.settings)
    before = world.refresh_grants()
    for _ in range(12):
        # The web layer builds one client per request: the knowledge must outlive a client.
        with ZohoInvoice.for_connection(manager, world.connection_id, max_retries=0) as zoho:
            with pytest.raises(MissingScopeError) as info:
                zoho.contacts.list()
            assert info.value.code == 57
    assert world.refresh_grants() - before <= 1
    with ZohoInvoice.for_connection(manager, world.connection_id) as zoho:
        assert len(zoho.invoices.list().items) == 3
    assert world.refresh_grants() - before <= 1


def test_s35_token_seen_working_is_never_refreshed_for_a_missing_scope(world: Connected) -> None:
    manager = TokenManager.from_settings(world.settings)
    before = world.refresh_grants()
    with ZohoInvoice.for_connection(manager, world.connection_id) as zoho:
        assert zoho.invoices.list().items
        for _ in range(5):
            with pytest.raises(MissingScopeError):
                zoho.contacts.get("1")
        assert zoho.invoices.list().items
    assert world.refresh_grants() == before
    # Each refused call went out once: no resend with the same token.
    sent = world.sandbox.world.journal.entries("invoice.GET /contacts/{contact_id}")
    assert len(sent) == 5


def test_s35_a_token_that_dies_is_still_refreshed_once(world: Connected) -> None:
    manager = TokenManager.from_settings(world.settings)
    with ZohoInvoice.for_connection(manager, world.connection_id) as zoho:
        assert zoho.invoices.list().items
        before = world.refresh_grants()
        # Two hours later for Zoho: the token that listed invoices is dead; listing them again
        # is an operation it did before, so the 57 means a dead token: one refresh, one retry.
        world.clock.now += 2 * 3600
        assert zoho.invoices.list().items
        assert world.refresh_grants() == before + 1


def test_s35_async_under_scoped_calls_refresh_at_most_once(world: Connected) -> None:
    manager = AsyncTokenManager(TokenManager.from_settings(world.settings))
    before = world.refresh_grants()

    async def main() -> None:
        async with AsyncZohoInvoice.for_connection(manager, world.connection_id) as zoho:
            for _ in range(8):
                with pytest.raises(MissingScopeError):
                    await zoho.contacts.list()
            assert len((await zoho.invoices.list()).items) == 3

    anyio.run(main)
    assert world.refresh_grants() - before <= 1
