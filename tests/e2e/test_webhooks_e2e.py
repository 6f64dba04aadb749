"""End-to-end test (SECURITY 48): ``zoho-invoice serve`` as a real process delivers, as soon as it
starts, webhooks an earlier process queued and never sent (it died), to a real receiver on a
loopback port that verifies them with ``standardwebhooks``. No worker runs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support import free_port
from webhook_receiver import new_secret, receiving
from zoho_invoice.tokens import ConnectionEvent, OutboxEventSink
from zoho_invoice.vault import KeyRing, Vault

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]


def test_s48_serve_delivers_what_a_dead_process_queued(tmp_path: Path) -> None:
    secret = new_secret()
    keys = KeyRing.generate_entry()
    data_dir = tmp_path / "data"
    vault = Vault.open(
        f"sqlite:///{data_dir / 'zoho-invoice.db'}", KeyRing.from_string(keys), upgrade=True
    )
    try:
        sink = OutboxEventSink(vault.webhook_outbox)  # the earlier process queued, then died
        at = datetime.now(UTC)
        sink(ConnectionEvent("connection.created", "a" * 32, "tenant-1", at))
        sink(ConnectionEvent("connection.revoked", "b" * 32, "tenant-2", at, "disconnected"))
    finally:
        vault.close()
    with receiving(secret) as receiver:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")},
            "ZOHO_CLIENT_ID": "1000.E2EWEBHOOKS",
            "ZOHO_CLIENT_SECRET": "e2e-webhooks-client-secret",
            "ZOHO_REDIRECT_URI": f"http://127.0.0.1:{port}/callback",
            "ZOHO_ENCRYPTION_KEYS": keys,
            "ZOHO_API_KEY": "e2e-webhooks-api-key-" + os.urandom(16).hex(),
            "ZOHO_DATA_DIR": str(data_dir),
            "ZOHO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ZOHO_WEBHOOK_URL": receiver.url,
            "ZOHO_WEBHOOK_SECRET": secret,
        }
        service = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deliveries = receiver.wait_for(2, timeout=30)
        finally:
            service.terminate()
            try:
                output = service.communicate(timeout=10)[0].decode()
            except subprocess.TimeoutExpired:
                service.kill()
                output = service.communicate()[0].decode()
    assert all(d.verified for d in deliveries), [d.error for d in deliveries]
    assert sorted(d.payload["type"] for d in deliveries) == [
        "connection.created",
        "connection.revoked",
    ]
    assert secret.removeprefix("whsec_") not in output
