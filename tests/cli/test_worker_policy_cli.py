"""CLI tests (unit: a SQLite vault, Zoho Accounts a closed loopback port): `zoho-invoice worker`
keeps in-use connections fresh and probes idle ones only when their probe is due, with
--in-use-window / --idle-probe-interval / --probes-per-cycle and their ZOHO_ settings."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoho_invoice.cli import app
from zoho_invoice.oauth import TokenSet
from zoho_invoice.vault import KeyRing, Vault
from zoho_invoice_sandbox import datacenters_table

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("ZOHO_DATABASE_URL", "ZOHO_ENCRYPTION_KEYS", "ZOHO_API_KEY", "ZOHO_DATACENTERS"):
        monkeypatch.delenv(name, raising=False)
    table = tmp_path / "datacenters.json"
    # Nothing listens on port 9 (discard): every refresh fails fast as transient.
    table.write_text(json.dumps(datacenters_table("http://127.0.0.1:9")))
    return {
        "ZOHO_DATA_DIR": str(tmp_path / "data"),
        "ZOHO_DATABASE_URL": f"sqlite:///{tmp_path / 'zoho.db'}",
        "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry(),
        "ZOHO_CLIENT_ID": "1000.CLI",
        "ZOHO_CLIENT_SECRET": "cli-secret",
        "ZOHO_REDIRECT_URI": "http://127.0.0.1:8000/callback",
        "ZOHO_DATACENTERS": str(table),
    }


def _save(env: dict[str, str], owner: str, *, at: float) -> None:
    vault = Vault.open(
        env["ZOHO_DATABASE_URL"], KeyRing.from_string(env["ZOHO_ENCRYPTION_KEYS"]), clock=lambda: at
    )
    try:
        vault.save_connection(
            owner=owner,
            location="eu",
            api_domain="http://127.0.0.1:9/api/eu",
            scopes=["ZohoInvoice.invoices.READ"],
            tokens=TokenSet(
                access_token="1000.access",
                refresh_token="1000.refresh",
                expires_at=datetime.fromtimestamp(at, UTC) + timedelta(seconds=2),
                api_domain=None,
                token_type="Bearer",
                scope=None,
            ),
        )
    finally:
        vault.close()


def _round(env: dict[str, str], caplog: pytest.LogCaptureFixture, *options: str) -> str:
    caplog.clear()
    result = runner.invoke(app, ["worker", "--once", *options], env=env)
    assert result.exit_code == 0, result.output
    rounds = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker round")]
    assert len(rounds) == 1
    return rounds[0]


def test_worker_tries_in_use_connections_and_probes_idle_ones_when_due(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zoho_invoice.worker")
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    now = time.time()
    _save(env, "busy", at=now)  # connected just now: in use, its token ends at once
    _save(env, "quiet", at=now - 3 * 3600)  # connected three hours ago, never used since
    # Default policy: only the in-use one is due (Zoho is unreachable, so it is postponed).
    assert "probed 0, needs_reauth 0, unavailable 1" in _round(env, caplog)
    # A probe interval under three hours makes the idle one due as well.
    assert "unavailable 2" in _round(env, caplog, "--idle-probe-interval", "3600")
    # ... unless the cycle may probe none, and the setting says the same as the option.
    assert "unavailable 1" in _round(
        env, caplog, "--idle-probe-interval", "3600", "--probes-per-cycle", "0"
    )
    assert "unavailable 2" in _round({**env, "ZOHO_IDLE_PROBE_INTERVAL": "3600"}, caplog)
    # A window over three hours makes the quiet one in use (kept warm, not probed).
    assert "unavailable 2" in _round(env, caplog, "--in-use-window", str(4 * 3600))
