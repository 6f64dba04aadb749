"""Integration tests of the connect flow: the service app (TestClient) with a real Vault on SQLite
and the real sandbox app playing Zoho Accounts and the Invoice API, in process."""

from __future__ import annotations


def test_connect_us_user_with_one_org_binds_it(harness) -> None:
    response = harness.connect(owner="tenant-1", email="bob@bluebird.example")
    assert response.status_code == 200, response.text
    assert "Zoho Invoice is connected" in response.text
    assert "Bluebird Bakery" in response.text
    [conn] = harness.vault.list_connections(owner="tenant-1")
    assert conn.location == "us"
    assert conn.status == "active"
    bob = harness.world.directory.user_by_email("bob@bluebird.example")
    assert bob is not None
    assert conn.organization_id == bob.organization_ids[0]
    assert [e.type for e in harness.events] == ["connection.created"]
    assert len(harness.token_requests()) == 1


def _only(harness, owner: str = "tenant-1"):
    [conn] = harness.vault.list_connections(owner=owner)
    return conn


def test_reconnect_keeps_the_organization_only_if_the_user_still_has_it(harness) -> None:
    alice = harness.user("alice@acme.example")
    bob = harness.user("bob@bluebird.example")
    assert harness.connect(email="alice@acme.example").status_code == 200
    first = _only(harness)
    assert first.organization_id is None  # two organizations: the person chooses
    harness.vault.set_organization(first.id, alice.organization_ids[1])
    # Alice reconnects: her chosen organization is still hers, so it stays bound.
    assert harness.connect(email="alice@acme.example").status_code == 200
    assert _only(harness).id == first.id
    assert _only(harness).organization_id == alice.organization_ids[1]
    # A binding the user no longer has (here: Bob's organization) is cleared on reconnect.
    harness.vault.set_organization(first.id, bob.organization_ids[0])
    response = harness.connect(email="alice@acme.example")
    assert response.status_code == 200
    assert _only(harness).id == first.id
    assert _only(harness).organization_id is None
    assert "Bluebird" not in response.text
