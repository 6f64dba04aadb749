"""Integration tests of the organization routes of the JSON API (``GET .../organizations``,
``PATCH /api/connections/{id}``), with a real Vault and the sandbox app playing Zoho in process
(SECURITY 37)."""

from __future__ import annotations

import pytest

from zoho_invoice_sandbox import Fault


def _connected(harness, email: str, owner: str = "tenant-1") -> str:
    assert harness.connect(owner=owner, email=email).status_code == 200
    return str(harness.vault.list_connections(owner=owner)[0].id)


def _org_reads(harness) -> int:
    return len(harness.world.journal.entries("invoice.GET /organizations"))


def test_lists_the_users_organizations_from_zoho(harness) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    alice = harness.user("alice@acme.example")
    response = harness.api("GET", f"/api/connections/{conn_id}/organizations")
    assert response.status_code == 200, response.text
    orgs = response.json()["organizations"]
    assert [o["organization_id"] for o in orgs] == list(alice.organization_ids)
    assert {o["name"] for o in orgs} == {"Acme Corp", "Acme Labs"}
    assert all(o["currency_code"] for o in orgs)


def test_patch_binds_one_of_the_users_organizations(harness) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    alice = harness.user("alice@acme.example")
    assert harness.vault.get_connection(conn_id).organization_id is None
    before = _org_reads(harness)
    response = harness.api(
        "PATCH",
        f"/api/connections/{conn_id}",
        json={"organization_id": alice.organization_ids[1]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization_id"] == alice.organization_ids[1]
    assert response.json()["id"] == conn_id
    assert harness.vault.get_connection(conn_id).organization_id == alice.organization_ids[1]
    # Checked against Zoho's own list, read now.
    assert _org_reads(harness) == before + 1
    shown = harness.api("GET", f"/api/connections/{conn_id}").json()
    assert shown["organization_id"] == alice.organization_ids[1]


def test_patch_refuses_an_organization_the_user_does_not_have(harness) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    bob = harness.user("bob@bluebird.example")
    for foreign in (bob.organization_ids[0], "123"):
        response = harness.api(
            "PATCH", f"/api/connections/{conn_id}", json={"organization_id": foreign}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "unknown_organization"
    assert harness.vault.get_connection(conn_id).organization_id is None


def test_patch_unknown_connection_is_404_and_bad_body_422(harness) -> None:
    response = harness.api("PATCH", "/api/connections/nope", json={"organization_id": "1"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert harness.api("GET", "/api/connections/nope/organizations").status_code == 404
    conn_id = _connected(harness, "alice@acme.example")
    bad = harness.api("PATCH", f"/api/connections/{conn_id}", json={"organization_id": "x<y"})
    assert bad.status_code == 422
    assert harness.vault.get_connection(conn_id).organization_id is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/organizations"), ("PATCH", "")],
)
def test_s37_organization_routes_need_the_key_and_reach_no_zoho(harness, method, path) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    before = _org_reads(harness)
    response = harness.web.request(
        method,
        f"/api/connections/{conn_id}{path}",
        json={"organization_id": harness.user("alice@acme.example").organization_ids[0]},
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401
    assert _org_reads(harness) == before
    assert harness.vault.get_connection(conn_id).organization_id is None


def test_disconnected_connection_answers_409_needs_reauth(harness) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    assert harness.api("DELETE", f"/api/connections/{conn_id}").status_code == 204
    for method, path in (("GET", "/organizations"), ("PATCH", "")):
        response = harness.api(
            method,
            f"/api/connections/{conn_id}{path}",
            json={"organization_id": harness.user("alice@acme.example").organization_ids[0]},
        )
        assert response.status_code == 409
        assert response.json()["error"] == "needs_reauth"


def test_zoho_errors_are_passed_on_clearly(harness) -> None:
    conn_id = _connected(harness, "alice@acme.example")
    harness.world.faults.add(
        "invoice.GET /organizations",
        Fault(status=429, body={"code": 44, "message": "You have made too many requests."}),
    )
    limited = harness.api("GET", f"/api/connections/{conn_id}/organizations")
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert "too many requests" in limited.json()["message"]
    assert "Retry-After" in limited.headers
    harness.world.faults.add(
        "invoice.GET /organizations",
        Fault(status=500, body={"code": 9999, "message": "Internal trouble"}),
    )
    broken = harness.api(
        "PATCH",
        f"/api/connections/{conn_id}",
        json={"organization_id": harness.user("alice@acme.example").organization_ids[0]},
    )
    assert broken.status_code == 502
    assert broken.json() == {
        "error": "zoho_error",
        "message": "Zoho answered an error: Internal trouble",
    }
    assert harness.vault.get_connection(conn_id).organization_id is None


def test_openapi_documents_the_organization_routes(harness) -> None:
    doc = harness.web.get("/openapi.json").json()
    assert "patch" in doc["paths"]["/api/connections/{connection_id}"]
    assert "get" in doc["paths"]["/api/connections/{connection_id}/organizations"]


def test_daily_quota_is_passed_on_with_its_reset_not_a_minute(harness) -> None:
    """Zoho's code 45: the caller is told when the quota is renewed (Retry-After to the reset,
    from X-Rate-Limit-Reset), not to come back in a minute."""
    conn_id = _connected(harness, "alice@acme.example")
    harness.world.faults.add(
        "invoice.GET /organizations",
        Fault(
            status=429,
            body={"code": 45, "message": "daily limit"},
            headers={"X-Rate-Limit-Reset": "34881"},
        ),
    )
    spent = harness.api("GET", f"/api/connections/{conn_id}/organizations")
    assert spent.status_code == 429
    assert spent.json()["error"] == "daily_quota_exceeded"
    assert "renewed at" in spent.json()["message"]
    assert 34_000 < int(spent.headers["Retry-After"]) <= 34_881
