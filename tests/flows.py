"""A connection made through the real flow, for integration tests: ``from flows import ...``.

Settings → the service's connect flow (in process) → consent posted to a sandbox on a real port
→ the vault, as a user's app would do it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from support import Clock
from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import RunningSandbox, running_sandbox

PUBLIC_URL = "http://127.0.0.1:8000"
BOB = "bob@bluebird.example"


def refresh_grants(sandbox: RunningSandbox) -> int:
    """How many refresh-token grants the sandbox's Accounts has answered so far."""
    entries = sandbox.world.journal.entries("accounts.token")
    return sum(1 for e in entries if ("grant_type", "refresh_token") in e.form)


def connect_via_web(
    web: TestClient, sandbox_url: str, *, api_key: str, owner: str, email: str = BOB
) -> str:
    """The real connect flow: a connect session from the service's JSON API, the redirect to
    the sandbox, consent posted there over HTTP, the callback back to the service. Returns the
    new connection's id (the owner's only one)."""
    auth = {"Authorization": f"Bearer {api_key}"}
    session = web.post("/api/connect-sessions", json={"owner": owner}, headers=auth)
    assert session.status_code == 201, session.text
    to_zoho = web.get(urlsplit(session.json()["connect_url"]).path, follow_redirects=False)
    url = to_zoho.headers["location"]
    assert url.startswith(sandbox_url)
    with httpx.Client(follow_redirects=False) as browser:
        users = browser.get(sandbox_url + "/_sandbox/users").json()["users"]
        user_id = next(u["user_id"] for u in users if u["email"] == email)
        answer = browser.post(url, data={"user_id": user_id, "decision": "approve"})
    callback = answer.headers["location"]
    assert callback.startswith(PUBLIC_URL + "/callback?")
    assert web.get(callback[len(PUBLIC_URL) :], follow_redirects=False).status_code == 200
    [conn] = web.get(f"/api/connections?owner={owner}", headers=auth).json()["connections"]
    return str(conn["id"])


@dataclass
class Connected:
    settings: Settings
    connection_id: str
    organization_id: str
    clock: Clock
    sandbox: RunningSandbox

    def refresh_grants(self) -> int:
        return refresh_grants(self.sandbox)


@contextmanager
def connected(
    tmp_path: Path,
    *,
    client_id: str = "1000.APICONNECTED",
    client_secret: str = "api-connected-secret",
    api_key: str = "api-tests-connected-key-0123456789",
    owner: str = "user-7",
    scopes: Sequence[str] | None = None,
) -> Iterator[Connected]:
    """A sandbox on a free port (its clock a ``Clock``) and one connection of bob's (one
    organization) in a vault."""
    clock = Clock()
    datacenters_file = tmp_path / "datacenters.json"
    with running_sandbox(
        data_dir=tmp_path / "sandbox", clock=clock, datacenters_out=datacenters_file
    ) as sb:
        options: dict[str, object] = {}
        if scopes is not None:
            options["scopes"] = list(scopes)
        settings = Settings(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=api_key,
            datacenters=datacenters_file,
            data_dir=tmp_path / "data",
            public_url=PUBLIC_URL,
            **options,  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            conn_id = connect_via_web(web, sb.base_url, api_key=api_key, owner=owner)
        bob = sb.world.directory.user_by_email(BOB)
        assert bob is not None
        yield Connected(settings, conn_id, bob.organization_ids[0], clock, sb)
