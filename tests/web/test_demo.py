"""Integration tests of the demo dashboard (create_app(demo=True)) with the in-process sandbox."""

from __future__ import annotations

import re


def _csrf(page_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert match
    return match.group(1)


def test_demo_forms_need_the_csrf_token(demo_harness) -> None:
    harness = demo_harness
    harness.web.get("/")
    assert harness.web.post("/demo/connect", data={"csrf_token": "forged"}).status_code == 403
    assert harness.vault.list_connections() == []


def test_demo_connect_choose_organization_and_disconnect(demo_harness) -> None:
    harness = demo_harness
    dashboard = harness.web.get("/")
    assert "Connect Zoho Invoice" in dashboard.text
    start = harness.web.post(
        "/demo/connect", data={"csrf_token": _csrf(dashboard.text)}, follow_redirects=False
    )
    assert start.status_code == 303
    to_zoho = harness.web.get(start.headers["location"], follow_redirects=False)
    callback = harness.consent(to_zoho.headers["location"], "alice@acme.example")
    back = harness.callback(callback)
    assert back.status_code == 303
    page = harness.web.get(back.headers["location"])
    # Alice has two organizations: the dashboard offers a chooser.
    assert "Acme Corp" in page.text and "Acme Labs" in page.text
    [conn] = harness.vault.list_connections()
    assert conn.organization_id is None
    alice = harness.user("alice@acme.example")
    chosen = harness.web.post(
        f"/demo/connections/{conn.id}/organization",
        data={"csrf_token": _csrf(page.text), "organization_id": alice.organization_ids[1]},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert harness.vault.get_connection(conn.id).organization_id == alice.organization_ids[1]
    bogus = harness.web.post(
        f"/demo/connections/{conn.id}/organization",
        data={"csrf_token": _csrf(page.text), "organization_id": "123"},
    )
    assert bogus.status_code == 400
    gone = harness.web.post(
        f"/demo/connections/{conn.id}/disconnect",
        data={"csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert harness.vault.get_connection(conn.id).status == "revoked"
    assert harness.world.journal.entries("accounts.revoke")
