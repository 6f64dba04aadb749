"""Fixtures of the in-process Invoice API tests: a fresh sandbox world on a fixed clock, its
Invoice app through Starlette's TestClient, and alice's first organization with a full-access
token. A module that needs another world defines its own fixture of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from sandbox_support import NOW, mint
from support import Clock
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import create_invoice_app


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def world(clock: Clock) -> Iterator[SandboxWorld]:
    world = SandboxWorld(base_url="http://sandbox.test", clock=clock)
    yield world
    world.close()


@pytest.fixture
def client(world: SandboxWorld) -> Iterator[TestClient]:
    with TestClient(create_invoice_app(world)) as client:
        yield client


@pytest.fixture
def org(world: SandboxWorld) -> str:
    alice = world.directory.user_by_email("alice@acme.example")
    assert alice is not None
    return alice.organization_ids[0]


@pytest.fixture
def headers(world: SandboxWorld, org: str) -> dict[str, str]:
    token = mint(world, "alice@acme.example", ["ZohoInvoice.fullaccess.all"])
    return {"Authorization": f"Zoho-oauthtoken {token}", "X-com-zoho-invoice-organizationid": org}
