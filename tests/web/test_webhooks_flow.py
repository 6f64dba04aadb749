"""End-to-end test of the service's webhooks (SECURITY 48): the app built from its settings alone
(``ZOHO_WEBHOOK_URL``, ``ZOHO_WEBHOOK_SECRET``), the sandbox on a real port playing Zoho, the
real connect flow, and a real receiver on a loopback port that verifies each delivery with
``standardwebhooks`` as it arrives. No worker runs: the service delivers by itself.

And an integration test on the web harness (``conftest.py``): a disconnect announces
``connection.revoked``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from webhook_receiver import new_secret, receiving
from zoho_invoice import Settings
from zoho_invoice.tokens import OutboxEventSink
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import running_sandbox

API_KEY = "webhook-flow-test-api-key-0123456789abcdef"
SECRET = new_secret()


def test_s48_the_service_delivers_connection_events_signed(tmp_path: Path) -> None:
    datacenters_file = tmp_path / "datacenters.json"
    with (
        running_sandbox(data_dir=tmp_path / "sandbox", datacenters_out=datacenters_file) as sandbox,
        receiving(SECRET) as receiver,
    ):
        settings = Settings(
            client_id="1000.WEBHOOKFLOW",
            client_secret="webhook-flow-client-secret",
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=datacenters_file,
            data_dir=tmp_path / "data",
            public_url=PUBLIC_URL,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
        )
        app = create_app(settings)
        context = app.state.context
        assert isinstance(context.events, OutboxEventSink) and context.webhooks is not None
        try:
            with TestClient(app, base_url=PUBLIC_URL) as web:
                conn_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="t-48")
                [created] = receiver.wait_for(1)
                deleted = web.delete(
                    f"/api/connections/{conn_id}", headers={"Authorization": f"Bearer {API_KEY}"}
                )
                assert deleted.status_code == 204
                _, revoked = receiver.wait_for(2)
        finally:
            context.webhooks.close()
    for delivery, kind in ((created, "connection.created"), (revoked, "connection.revoked")):
        assert delivery.verified, delivery.error
        assert delivery.payload["type"] == kind
        assert delivery.payload["data"]["connection_id"] == conn_id
        assert delivery.payload["data"]["owner"] == "t-48"
    assert created.headers["webhook-id"] != revoked.headers["webhook-id"]
    assert context.vault.webhook_outbox.entries() == []


def test_s48_disconnect_announces_connection_revoked(harness) -> None:
    assert harness.connect(owner="t-49").status_code == 200
    [conn] = harness.api("GET", "/api/connections?owner=t-49").json()["connections"]
    assert harness.api("DELETE", f"/api/connections/{conn['id']}").status_code == 204
    assert [(e.type, e.connection_id, e.owner, e.reason) for e in harness.events] == [
        ("connection.created", conn["id"], "t-49", None),
        ("connection.revoked", conn["id"], "t-49", "disconnected"),
    ]
