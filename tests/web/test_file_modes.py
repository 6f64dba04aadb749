"""Integration test: the service's data folder, made when the app is built from settings, is
owner-only whatever the umask, and so is the SQLite vault in it (SECURITY 49)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from private_files import mode, permissive_umask
from zoho_invoice.settings import Settings
from zoho_invoice.vault import KeyRing
from zoho_invoice.web._context import build_context


@pytest.mark.usefixtures(permissive_umask.__name__)
@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_s49_service_data_folder_and_vault_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZOHO_WEBHOOK_URL", raising=False)
    settings = Settings(
        data_dir=tmp_path / "service" / "data",
        encryption_keys=KeyRing.generate_entry("k1"),
        client_id="1000.FILES",
        client_secret="files-secret",
        redirect_uri="http://127.0.0.1:8000/callback",
    )
    context = build_context(settings)
    try:
        assert (mode(tmp_path / "service"), mode(settings.data_dir)) == (0o700, 0o700)
        assert mode(settings.data_dir / "zoho-invoice.db") == 0o600
    finally:
        context.vault.close()
