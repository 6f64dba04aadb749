"""Integration test of the CLI's real wiring, with no test double in between: the environment
(``ZOHO_*``) → Settings → the vault → TokenManager → ZohoInvoice, for a connection made through
the real connect flow, against the sandbox on a real port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows import connected
from zoho_invoice_sandbox.invoice import seed_organization


def test_invoices_list_and_export_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoho_invoice.cli._app import app

    with connected(tmp_path) as world:
        seed_organization(world.sandbox.world, world.organization_id, contacts=2, invoices=7)
        settings = world.settings
        assert settings.client_id is not None
        assert settings.encryption_keys is not None and settings.client_secret is not None
        env = {
            "ZOHO_CLIENT_ID": settings.client_id,
            "ZOHO_CLIENT_SECRET": settings.client_secret.get_secret_value(),
            "ZOHO_REDIRECT_URI": str(settings.redirect_uri),
            "ZOHO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "ZOHO_DATACENTERS": str(settings.datacenters),
            "ZOHO_DATA_DIR": str(settings.data_dir),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        listed = runner.invoke(app, ["invoices", "list", "-c", world.connection_id, "--json"])
        assert listed.exit_code == 0, listed.output
        assert len(json.loads(listed.output)["items"]) == 7
        target = tmp_path / "out.jsonl"
        exported = runner.invoke(
            app,
            ["invoices", "export", "-c", world.connection_id, "--out", str(target), "--format",
             "jsonl"],
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        assert len(target.read_text().splitlines()) == 7
        # A wrong key in the environment: a clear refusal, not a traceback (SECURITY 24).
        monkeypatch.setenv("ZOHO_ENCRYPTION_KEYS", "k9:" + "A" * 43 + "=")
        refused = runner.invoke(app, ["invoices", "list", "-c", world.connection_id])
        assert refused.exit_code != 0 and "Traceback" not in refused.output
