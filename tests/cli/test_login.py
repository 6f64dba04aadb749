"""Integration test: ``zoho-invoice login`` serves the connect flow on loopback, a browser (an
HTTP client keeping cookies) approves on the sandbox on a real port, and the login ends with the
connection stored and usable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import free_port
from zoho_invoice import Settings, TokenManager, ZohoInvoice
from zoho_invoice._http import httpx
from zoho_invoice.cli._login import LoginResult, loopback_redirect, run_login
from zoho_invoice.vault import KeyRing
from zoho_invoice_sandbox import RunningSandbox, running_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(datacenters_out=tmp_path / "datacenters.json") as running:
        yield running


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        client_id="1000.LOGINCLIENT",
        client_secret="login-secret",
        encryption_keys=KeyRing.generate_entry(),
        datacenters=tmp_path / "datacenters.json",
        data_dir=tmp_path / "data",
        **extra,  # type: ignore[arg-type]
    )


def _approve(connect_url: str, sandbox_url: str, email: str) -> httpx.Response:
    """What a person does in the browser: follow to Zoho, pick the user, approve, come back."""
    users = httpx.get(sandbox_url + "/_sandbox/users").json()["users"]
    user = next(u for u in users if u["email"] == email)
    form = {"user_id": user["user_id"], "decision": "approve"}
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(connect_url)
        while response.status_code in (302, 303):
            target = response.headers["location"]
            if "/oauth/v2/auth" in target:
                browser.get(target)  # the consent page
                response = browser.post(target, data=form)
            else:
                response = browser.get(target)
        return response


def test_login_connects_and_the_token_works(tmp_path: Path, sandbox: RunningSandbox) -> None:
    settings = _settings(tmp_path)
    port = free_port()
    urls: list[str] = []
    outcome: list[LoginResult | BaseException] = []

    def login() -> None:
        try:
            outcome.append(
                run_login(
                    settings,
                    owner="terminal-user",
                    port=port,
                    timeout=30,
                    on_connect_url=urls.append,
                    open_browser=False,
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=login)
    thread.start()
    while not urls and thread.is_alive():
        thread.join(0.05)
    assert urls, outcome
    assert urls[0].startswith(f"http://127.0.0.1:{port}/connect/")
    page = _approve(urls[0], sandbox.base_url, "bob@bluebird.example")
    assert page.status_code == 200 and "connected" in page.text.lower()
    thread.join(30)
    result = outcome[0]
    assert isinstance(result, LoginResult), result
    assert result.owner == "terminal-user" and not result.reconnected

    # The connection is in the vault and works from the library, after the login has ended.
    manager = TokenManager.from_settings(
        settings.model_copy(update={"redirect_uri": f"http://127.0.0.1:{port}/callback"})
    )
    with ZohoInvoice.for_connection(manager, result.connection_id) as zoho:
        organizations = zoho.organizations.list()
    assert [org.name for org in organizations] == ["Bluebird Bakery"]


def test_login_times_out_clearly(tmp_path: Path, sandbox: RunningSandbox) -> None:
    with pytest.raises(TimeoutError, match="nobody finished the login"):
        run_login(_settings(tmp_path), owner="x", port=free_port(), timeout=0.3, open_browser=False)


def test_loopback_redirect_prefers_a_loopback_redirect_uri(tmp_path: Path) -> None:
    loopback = _settings(tmp_path, redirect_uri="http://localhost:9123/zoho/callback")
    assert loopback_redirect(loopback, None) == ("http://localhost:9123/zoho/callback", 9123)
    public = _settings(tmp_path, redirect_uri="https://app.example.com/zoho/callback")
    assert loopback_redirect(public, 8777) == ("http://127.0.0.1:8777/callback", 8777)
    assert loopback_redirect(public, None) == ("http://127.0.0.1:8765/callback", 8765)


def test_login_command_without_keys_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from zoho_invoice.cli import app

    for name in list(__import__("os").environ):
        if name.startswith("ZOHO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["login", "--no-browser", "--timeout", "1"])
    assert result.exit_code == 2
    assert "zoho-invoice keys generate" in result.output
