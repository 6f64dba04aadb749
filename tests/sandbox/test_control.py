"""Integration tests: the sandbox's control API and its Python wrappers, the DC table, restarts
with a data directory, and the sandbox served on a real port (``running_sandbox``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice_sandbox import (
    AsyncSandboxControl,
    SandboxControl,
    SandboxWorld,
    create_sandbox_app,
    datacenters_table,
    running_sandbox,
)

BASE = "http://sandbox.test"
CLIENT = "1000.CONTROLCLIENT"
SECRET = "control-secret"
REDIRECT = "http://app.test/cb"
ALICE = "700001001"  # alice@acme.example, us


def approve_form() -> dict[str, str]:
    return {"user_id": ALICE, "decision": "approve"}


def auth_query(**extra: str) -> dict[str, str]:
    query = {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "ZohoInvoice.invoices.READ",
        "access_type": "offline",
        "prompt": "consent",
        "state": "s",
    }
    query.update(extra)
    return query


def code_from(location: str) -> str:
    return str(httpx.URL(location).params["code"])


async def connect_async(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.post(
        "/accounts/us/oauth/v2/auth", params=auth_query(), data=approve_form()
    )
    response = await client.post(
        "/accounts/us/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "redirect_uri": REDIRECT,
            "code": code_from(answer.headers["location"]),
        },
    )
    body: dict[str, Any] = response.json()
    return body


def refresh_form(refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "refresh_token": refresh_token,
    }


@pytest.fixture
def app() -> Iterator[Starlette]:
    app = create_sandbox_app(base_url=BASE)
    yield app
    app.state.world.close()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def test_datacenters_table_has_all_nine_and_is_accepted_by_the_project() -> None:
    table = datacenters_table("http://127.0.0.1:8090/")
    assert list(table) == ["us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn"]
    assert table["ca"] == {
        "accounts_url": "http://127.0.0.1:8090/accounts/ca",
        "api_domain": "http://127.0.0.1:8090/api/ca",
    }
    parsed = DataCenterTable.from_mapping(table)
    assert parsed.get("eu").token_url == "http://127.0.0.1:8090/accounts/eu/oauth/v2/token"


@pytest.mark.anyio
async def test_journal_shows_where_the_secret_went(client: httpx.AsyncClient) -> None:
    control = AsyncSandboxControl(client)
    tokens = await connect_async(client)
    await client.post("/accounts/us/oauth/v2/token", data=refresh_form(tokens["refresh_token"]))
    entries = await control.journal("accounts.token")
    assert len(entries) == 2
    for entry in entries:
        assert entry["path"] == "/accounts/us/oauth/v2/token"
        assert entry["method"] == "POST"
        assert ["client_secret", SECRET] in entry["form"]
        assert all(name != "client_secret" for name, _ in entry["query"])
    assert [e["endpoint"] for e in await control.journal()] == [
        "accounts.auth",
        "accounts.token",
        "accounts.token",
    ]
    assert len(await control.journal("accounts.*")) == 3
    assert await control.journal("accounts.revoke") == []


@pytest.mark.anyio
async def test_counts_tokens_minted(client: httpx.AsyncClient) -> None:
    control = AsyncSandboxControl(client)
    assert await control.tokens_minted() == 0
    tokens = await connect_async(client)
    for _ in range(3):
        await client.post("/accounts/us/oauth/v2/token", data=refresh_form(tokens["refresh_token"]))
    assert await control.tokens_minted() == 4
    assert await control.tokens_minted(tokens["refresh_token"]) == 4
    stats = await control.stats(tokens["refresh_token"])
    assert stats == {
        "access_tokens_minted": 4,
        "refresh_grants": 3,
        "live_access_tokens": 4,
        "live_refresh_tokens": 1,
    }


@pytest.mark.anyio
async def test_revoke_refresh_token_by_value(client: httpx.AsyncClient, app: Starlette) -> None:
    control = AsyncSandboxControl(client)
    tokens = await connect_async(client)
    await control.revoke_refresh_token(tokens["refresh_token"])
    world: SandboxWorld = app.state.world
    assert world.authenticate(tokens["access_token"]) is None
    answer = await client.post(
        "/accounts/us/oauth/v2/token", data=refresh_form(tokens["refresh_token"])
    )
    assert answer.json() == {"error": "invalid_code"}
    with pytest.raises(RuntimeError, match="HTTP 404"):
        await control.revoke_refresh_token(tokens["refresh_token"])


@pytest.mark.anyio
async def test_scripted_faults_are_listed_and_cleared(client: httpx.AsyncClient) -> None:
    control = AsyncSandboxControl(client)
    await control.script("accounts.token", status=503, times=3)
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert listed == [
        {
            "endpoint": "accounts.token",
            "remaining": 3,
            "status": 503,
            "body": None,
            "delay": 0.0,
            "headers": {},
            "delay_after": 0.0,
        }
    ]
    await control.clear_faults()
    assert (await client.get("/_sandbox/faults")).json()["faults"] == []
    tokens = await connect_async(client)
    assert "access_token" in tokens


@pytest.mark.anyio
async def test_settings_change_the_token_answers(client: httpx.AsyncClient) -> None:
    control = AsyncSandboxControl(client)
    settings = await control.configure(access_token_lifetime=120, token_format="legacy")
    assert settings == {
        "access_token_lifetime": 120,
        "token_format": "legacy",
        "auto_register_clients": True,
        "throttle_wording": "classic",
        "throttle_window": "sliding",
        "live_access_tokens": 10,
        "refresh_token_limit": 10,
        "authorization_code_limit": 10,
    }
    tokens = await connect_async(client)
    assert tokens["expires_in_sec"] == 120 and tokens["expires_in"] == 120_000


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/_sandbox/clients", {"client_id": "x"}),
        ("/_sandbox/faults", {"endpoint": "accounts.token", "times": 0}),
        ("/_sandbox/faults", {"endpoint": "accounts.token", "status": 42}),
        ("/_sandbox/revoke", {"token": "x"}),
    ],
)
async def test_bad_control_requests_are_422(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any]
) -> None:
    answer = await client.post(path, json=payload)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    bad_settings = await client.patch("/_sandbox/settings", json={"token_format": "new"})
    assert bad_settings.status_code == 422


@pytest.mark.anyio
async def test_reset_forgets_everything(client: httpx.AsyncClient, app: Starlette) -> None:
    control = AsyncSandboxControl(client)
    await control.register_client(CLIENT, SECRET, ["http://elsewhere.test/cb"])
    await control.configure(access_token_lifetime=5)
    await control.script("accounts.token", status=500)
    await control.reset()
    assert await control.journal() == []
    assert (await client.get("/_sandbox/settings")).json()["access_token_lifetime"] == 3600
    # The registration is gone: the old redirect restriction no longer applies.
    tokens = await connect_async(client)
    assert tokens["expires_in"] == 3600


@pytest.mark.anyio
async def test_users_lists_the_directory(client: httpx.AsyncClient) -> None:
    listing = await AsyncSandboxControl(client).users()
    alice = next(u for u in listing["users"] if u["email"] == "alice@acme.example")
    assert alice["user_id"] == ALICE and alice["location"] == "us"
    assert len(alice["organization_ids"]) == 2
    assert all(isinstance(o["organization_id"], str) for o in listing["organizations"])
    index = (await client.get("/")).json()
    assert index["datacenters"]["eu"]["accounts_url"] == f"{BASE}/accounts/eu"


@pytest.mark.anyio
async def test_a_restarted_sandbox_honours_earlier_tokens(data_dir: Path) -> None:
    first = create_sandbox_app(base_url=BASE, data_dir=data_dir)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url=BASE) as c:
        tokens = await connect_async(c)
    first.state.world.close()

    second = create_sandbox_app(base_url=BASE, data_dir=data_dir)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url=BASE) as c:
        assert second.state.world.authenticate(tokens["access_token"]) is not None
        answer = await c.post(
            "/accounts/us/oauth/v2/token", data=refresh_form(tokens["refresh_token"])
        )
        assert "access_token" in answer.json()
        wrong = await c.post(
            "/accounts/us/oauth/v2/token",
            data={**refresh_form(tokens["refresh_token"]), "client_secret": "other"},
        )
        assert wrong.json() == {"error": "invalid_client_secret"}
    second.state.world.close()


def test_running_sandbox_on_a_real_port_with_the_sync_control(tmp_path: Path) -> None:
    table_file = tmp_path / "datacenters.json"
    with running_sandbox(datacenters_out=table_file) as sandbox:
        assert sandbox.base_url.startswith("http://127.0.0.1:")
        table = json.loads(table_file.read_text())
        assert table == datacenters_table(sandbox.base_url)
        with httpx.Client(base_url=sandbox.base_url) as http:
            control = SandboxControl(http)
            control.register_client(CLIENT, SECRET, [REDIRECT])
            answer = http.post(
                "/accounts/us/oauth/v2/auth", params=auth_query(), data=approve_form()
            )
            code = code_from(answer.headers["location"])
            body = http.post(
                table["us"]["accounts_url"] + "/oauth/v2/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": CLIENT,
                    "client_secret": SECRET,
                    "redirect_uri": REDIRECT,
                    "code": code,
                },
            ).json()
            assert body["api_domain"] == table["us"]["api_domain"]
            assert sandbox.world.authenticate(body["access_token"]) is not None
            control.script("accounts.token", body={"error": "invalid_client"})
            assert http.post("/accounts/us/oauth/v2/token", data={}).json() == {
                "error": "invalid_client"
            }
            control.set_access_token_lifetime(30)
            assert control.tokens_minted() == 1
            assert [e["endpoint"] for e in control.journal("accounts.token")] == [
                "accounts.token",
                "accounts.token",
            ]
            assert len(control.users()["users"]) >= 6
            control.clear_faults()
            control.revoke_refresh_token(body["refresh_token"])
            assert control.stats()["live_refresh_tokens"] == 0
            control.reset()
            assert control.journal() == []


def test_s41_delay_after_mints_first_and_holds_the_answer(tmp_path: Path) -> None:
    """``Fault(delay_after=...)`` is Zoho having minted while the answer is still on its way:
    a client that gives up (or is killed) meanwhile never sees the tokens, yet they exist.
    ``delay`` is the opposite: nothing is minted while the request waits."""
    with running_sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url) as http:
        control = SandboxControl(http)
        answer = http.post("/accounts/us/oauth/v2/auth", params=auth_query(), data=approve_form())
        tokens = http.post(
            "/accounts/us/oauth/v2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT,
                "client_secret": SECRET,
                "redirect_uri": REDIRECT,
                "code": code_from(answer.headers["location"]),
            },
        ).json()
        refresh = tokens["refresh_token"]
        assert control.tokens_minted(refresh) == 1

        control.script("accounts.token", status=None, delay=1.0)
        with pytest.raises(httpx.ReadTimeout):
            http.post("/accounts/us/oauth/v2/token", data=refresh_form(refresh), timeout=0.3)
        assert control.tokens_minted(refresh) == 1  # still waiting: nothing minted yet
        deadline = time.monotonic() + 10
        while control.tokens_minted(refresh) == 1:  # the delay over, it mints (nobody hears)
            assert time.monotonic() < deadline
            time.sleep(0.02)

        control.script("accounts.token", status=None, delay_after=60.0)
        with pytest.raises(httpx.ReadTimeout):
            http.post("/accounts/us/oauth/v2/token", data=refresh_form(refresh), timeout=0.5)
        assert control.tokens_minted(refresh) == 3  # minted, though the answer never came
        assert control.stats(refresh)["live_access_tokens"] == 3
        assert http.get("/_sandbox/faults").json()["faults"] == []
        again = http.post("/accounts/us/oauth/v2/token", data=refresh_form(refresh)).json()
        assert sandbox.world.authenticate(again["access_token"]) is not None
