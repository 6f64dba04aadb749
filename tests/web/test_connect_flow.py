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
