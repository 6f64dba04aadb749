"""The package's errors are mapped to answers in one place (``web/_errors.py``): the JSON API's
shape also when another app mounts ``api_router`` without our error handlers, and a "No such
connection" page for the demo's forms."""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.testclient import TestClient

from zoho_invoice.web import api_router


def _csrf(page_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert match
    return match.group(1)


def test_api_router_mounted_in_a_bare_app_answers_with_the_apis_errors(harness) -> None:
    harness.connect(owner="tenant-1")
    [conn] = harness.vault.list_connections()
    ctx = harness.app.state.context
    mine = FastAPI()  # a user's own app: none of the service's exception handlers
    mine.include_router(api_router(context=ctx))
    auth = {"Authorization": f"Bearer {harness.api_key}"}
    with TestClient(mine, raise_server_exceptions=False) as client:
        unknown = client.get("/api/connections/no-such-id", headers=auth)
        assert unknown.status_code == 404
        assert unknown.json() == {"error": "not_found", "message": "no connection with that id"}
        assert unknown.headers["cache-control"] == "no-store"
        too_long = client.delete("/api/connections/" + "x" * 201, headers=auth)
        assert too_long.status_code == 404 and too_long.json()["error"] == "not_found"

        assert client.delete(f"/api/connections/{conn.id}", headers=auth).status_code == 204
        revoked = client.post(f"/api/connections/{conn.id}/access-token", headers=auth)
        assert revoked.status_code == 409
        assert revoked.json()["error"] == "needs_reauth"
        organizations = client.get(f"/api/connections/{conn.id}/organizations", headers=auth)
        assert organizations.status_code == 409


def test_connection_answers_are_the_vaults_view_in_the_documented_shape(harness) -> None:
    harness.connect(owner="tenant-1")
    [conn] = harness.vault.list_connections()
    body = harness.api("GET", f"/api/connections/{conn.id}").json()
    assert set(body) == set(conn.to_json())
    assert body["id"] == conn.id and body["scopes"] == conn.scopes
    schema = harness.web.get("/openapi.json").json()["components"]["schemas"]["ConnectionOut"]
    assert set(schema["properties"]) == set(conn.to_json())
    assert set(schema["required"]) == set(conn.to_json())


def test_demo_forms_on_a_connection_that_is_not_the_demos_answer_a_page(demo_harness) -> None:
    harness = demo_harness
    harness.connect(owner="someone-else")
    [other] = harness.vault.list_connections()
    csrf = _csrf(harness.web.get("/").text)
    for path, data in (
        (f"/demo/connections/{other.id}/disconnect", {}),
        (f"/demo/connections/{other.id}/organization", {"organization_id": "1"}),
        (f"/demo/connections/{other.id}/invoices", {}),
        ("/demo/connections/no-such-id/disconnect", {}),
    ):
        answer = harness.web.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "No such connection" in answer.text
    assert harness.vault.get_connection(other.id).status == "active"
