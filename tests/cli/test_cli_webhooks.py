"""Integration tests of webhooks on the command line (SECURITY 48), with Typer's CliRunner on a
real SQLite database: ``serve`` and ``worker`` refuse a weak webhook setting before touching
anything, and ``worker`` delivers what is queued to a real receiver on a loopback port."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from webhook_receiver import new_secret, receiving
from zoho_invoice.cli import app
from zoho_invoice.tokens import ConnectionEvent, OutboxEventSink
from zoho_invoice.vault import KeyRing, Vault

runner = CliRunner()
SECRET = new_secret()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in (
        "ZOHO_DATABASE_URL",
        "ZOHO_DATACENTERS",
        "ZOHO_WEBHOOK_URL",
        "ZOHO_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    return {
        "ZOHO_DATA_DIR": str(tmp_path / "data"),
        "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry(),
        "ZOHO_API_KEY": "cli-webhook-test-api-key-0123456789abcdef",
        "ZOHO_CLIENT_ID": "1000.CLI",
        "ZOHO_CLIENT_SECRET": "cli-secret",
        "ZOHO_REDIRECT_URI": "http://127.0.0.1:8000/callback",
    }


SHORT = new_secret(16)


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker", "--once"]])
@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        ("https://hooks.example.com/zoho", None, "ZOHO_WEBHOOK_SECRET is not set"),
        ("https://hooks.example.com/zoho", SHORT, "holds 16 bytes"),
        ("https://hooks.example.com/zoho", "s3cr3t-not-standard", "Standard Webhooks form"),
        ("file:///tmp/hooks", SECRET, "must be https"),
        ("http://hooks.example.com/zoho", SECRET, "must be https"),
    ],
)
def test_s48_start_up_refuses_a_weak_webhook_setting(
    env: dict[str, str], command: list[str], url: str, secret: str | None, problem: str
) -> None:
    settings = {**env, "ZOHO_WEBHOOK_URL": url}
    if secret is not None:
        settings["ZOHO_WEBHOOK_SECRET"] = secret
    result = runner.invoke(app, command, env=settings)
    assert result.exit_code == 2, result.output
    assert "refusing to start" in result.stderr and problem in result.stderr
    assert secret is None or secret.removeprefix("whsec_") not in result.output
    assert "Traceback" not in result.output
    assert not Path(env["ZOHO_DATA_DIR"]).exists()  # refused before anything was created


def test_s48_worker_delivers_queued_webhooks(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    keyring = KeyRing.from_string(env["ZOHO_ENCRYPTION_KEYS"])
    vault = Vault.open(f"sqlite:///{Path(env['ZOHO_DATA_DIR']).resolve()}/zoho-invoice.db", keyring)
    try:
        event = ConnectionEvent("connection.needs_reauth", "c" * 32, "tenant-9", datetime.now(UTC))
        OutboxEventSink(vault.webhook_outbox)(event)  # e.g. queued by the service, then it died
        with receiving(SECRET) as receiver:
            settings = {**env, "ZOHO_WEBHOOK_URL": receiver.url, "ZOHO_WEBHOOK_SECRET": SECRET}
            result = runner.invoke(app, ["worker", "--once", "--no-refresh"], env=settings)
            assert result.exit_code == 0, result.output
            [delivery] = receiver.received
        assert delivery.verified and delivery.payload["type"] == "connection.needs_reauth"
        assert vault.webhook_outbox.entries() == []
    finally:
        vault.close()
