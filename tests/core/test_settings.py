"""Unit tests for Settings: environment parsing, secrets kept secret (SECURITY 25)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoho_invoice._exceptions import ConfigurationError
from zoho_invoice.settings import DEFAULT_SCOPES, Settings


def test_reads_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_CLIENT_ID", "1000.ABC")
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "s3cret-value")
    monkeypatch.setenv("ZOHO_REDIRECT_URI", "https://app.example.com/zoho/callback")
    monkeypatch.setenv("ZOHO_SCOPES", "ZohoInvoice.invoices.READ, ZohoInvoice.contacts.CREATE")
    monkeypatch.setenv("ZOHO_PUBLIC_URL", "https://app.example.com/")
    settings = Settings()
    assert settings.client_id == "1000.ABC"
    assert settings.scopes == ["ZohoInvoice.invoices.READ", "ZohoInvoice.contacts.CREATE"]
    assert settings.public_url == "https://app.example.com"
    _, secret, _ = settings.require_client()
    assert secret.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings.model_dump())


def test_default_scopes_and_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.scopes == list(DEFAULT_SCOPES)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/zoho-invoice.db"


def test_s25_client_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    settings = Settings(client_secret_file=secret_file)
    secret = settings.resolved_client_secret
    assert secret is not None and secret.get_secret_value() == "from-a-file"


def test_missing_client_settings_are_named() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings(client_id=None, client_secret=None, redirect_uri=None).require_client()
    message = str(info.value)
    assert "ZOHO_CLIENT_ID" in message and "ZOHO_REDIRECT_URI" in message


def test_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(client_secret_file=tmp_path / "nope")
    with pytest.raises(ConfigurationError, match="ZOHO_CLIENT_SECRET_FILE"):
        _ = settings.resolved_client_secret
