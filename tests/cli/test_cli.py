"""Integration tests of the ``zoho-invoice`` command line with Typer's CliRunner, on a real
SQLite database in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoho_invoice.cli import app
from zoho_invoice.vault import KeyRing, Vault

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("ZOHO_DATABASE_URL", "ZOHO_ENCRYPTION_KEYS", "ZOHO_API_KEY", "ZOHO_DATACENTERS"):
        monkeypatch.delenv(name, raising=False)
    return {
        "ZOHO_DATA_DIR": str(tmp_path / "data"),
        "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry(),
        "ZOHO_API_KEY": "cli-test-api-key-0123456789abcdef-xyz",
        "ZOHO_CLIENT_ID": "1000.CLI",
        "ZOHO_CLIENT_SECRET": "cli-secret",
        "ZOHO_REDIRECT_URI": "http://127.0.0.1:8000/callback",
    }


def test_keys_generate_output_parses_as_a_keyring() -> None:
    result = runner.invoke(app, ["keys", "generate"])
    assert result.exit_code == 0
    ring = KeyRing.from_string(result.stdout.strip())
    sealed = ring.seal("hello", row_id="r", field="f")
    assert ring.open(sealed, row_id="r", field="f") == "hello"
    assert runner.invoke(app, ["keys", "generate"]).stdout != result.stdout


def test_db_upgrade_then_connections_list_json(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["connections", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert '"connections": []' in listed.stdout


def test_s24_serve_refuses_a_wrong_key(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    wrong = {**env, "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry()}
    result = runner.invoke(app, ["serve", "--port", "1"], env=wrong)
    assert result.exit_code == 2
    assert "refusing to start" in result.stderr
    assert "Traceback" not in result.output


def test_s24_serve_refuses_a_missing_or_malformed_key(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["serve"], env={**env, "ZOHO_ENCRYPTION_KEYS": ""})
    assert result.exit_code == 2
    assert "ZOHO_ENCRYPTION_KEYS" in result.stderr
    result = runner.invoke(app, ["serve"], env={**env, "ZOHO_ENCRYPTION_KEYS": "k1:not-base64"})
    assert result.exit_code == 2
    assert "refusing to start" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("ZOHO_API_KEY", "", "ZOHO_API_KEY is not set"),
        ("ZOHO_API_KEY", "a" * 31, "ZOHO_API_KEY is shorter than 32"),
        ("ZOHO_METRICS_KEY", "m" * 31, "ZOHO_METRICS_KEY is shorter than 32"),
        ("ZOHO_METRICS_KEY", "cli-test-api-key-0123456789abcdef-xyz", "must differ"),
    ],
)
def test_s47_serve_refuses_a_short_or_shared_key(
    env: dict[str, str], tmp_path: Path, name: str, value: str, named: str
) -> None:
    result = runner.invoke(app, ["serve", "--port", "1"], env={**env, name: value})
    assert result.exit_code == 2
    assert "refusing to start" in result.stderr and named in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr
    assert not value or value not in result.output
    assert not (tmp_path / "data").exists()  # refused before the database was touched


def test_bad_input_is_a_clear_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["serve", "--port", "99999"], env=env)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_keys_rotate_reseals_under_the_new_key(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    new_entry = KeyRing.generate_entry()
    both = f"{new_entry},{env['ZOHO_ENCRYPTION_KEYS']}"
    result = runner.invoke(app, ["keys", "rotate"], env={**env, "ZOHO_ENCRYPTION_KEYS": both})
    assert result.exit_code == 0, result.output
    assert "re-sealed" in result.stdout
    # The new key alone now opens the database.
    url = f"sqlite:///{Path(env['ZOHO_DATA_DIR']).resolve() / 'zoho-invoice.db'}"
    Vault.open(url, KeyRing.from_string(new_entry)).close()


def test_worker_once(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(app, ["worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
