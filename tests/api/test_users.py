"""Integration tests: ``client.users.me()`` (sync and async) against the sandbox app in process,
which answers ``GET /users/me`` as Zoho Invoice documents it: the token's user, as a user of the
organization the request names (SECURITY 44 tells connections apart by it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from api._sandbox import ALICE, amint, mint
from zoho_invoice import BadRequestError, ConfigurationError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice_sandbox import SandboxWorld, create_sandbox_app

BASE = "http://127.0.0.1:9"  # never dialled: the sandbox is reached in process
BOB = "bob@bluebird.example"


@pytest.fixture
def app() -> Starlette:
    return create_sandbox_app(base_url=BASE)


@pytest.fixture
def http(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client


def _user(app: Starlette, email: str):
    world: SandboxWorld = app.state.world
    user = world.directory.user_by_email(email)
    assert user is not None
    return user


def _client(http: TestClient, email: str, app: Starlette, org: str | None) -> ZohoInvoice:
    tokens = mint(http, _user(app, email).user_id)
    return ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=org,
        http_client=http,
        budget=UnlimitedBudget(),
    )


def test_me_is_the_tokens_user_in_each_of_their_organizations(
    app: Starlette, http: TestClient
) -> None:
    alice = _user(app, ALICE)
    for org in alice.organization_ids:
        with _client(http, ALICE, app, org) as client:
            me = client.users.me()
        assert me.user_id == alice.user_id
        assert me.email == ALICE
        assert me.is_current_user is True
    with _client(http, BOB, app, _user(app, BOB).organization_ids[0]) as client:
        assert client.users.me().user_id == _user(app, BOB).user_id != alice.user_id


def test_me_in_an_organization_the_user_is_not_in_is_6041(app: Starlette, http: TestClient) -> None:
    with (
        _client(http, BOB, app, _user(app, ALICE).organization_ids[0]) as client,
        pytest.raises(BadRequestError) as raised,
    ):
        client.users.me()
    assert raised.value.code == 6041


def test_me_needs_an_organization_id(app: Starlette, http: TestClient) -> None:
    with _client(http, ALICE, app, None) as client, pytest.raises(ConfigurationError):
        client.users.me()


@pytest.mark.anyio
async def test_async_me(app: Starlette) -> None:
    alice = _user(app, ALICE)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        tokens = await amint(http, alice.user_id)
        async with AsyncZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=alice.organization_ids[1],
            http_client=httpx.AsyncClient(transport=transport),
            budget=UnlimitedBudget(),
        ) as client:
            me = await client.users.me()
    assert me.user_id == alice.user_id
