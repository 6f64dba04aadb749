"""A connection made through the real flow against a sandbox on a real port, for the API
client's integration tests: Settings → the service's connect flow → the vault, as a user's app
would do it (the same steps as tests/integration/test_library_path.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.sandbox import RunningSandbox, running_sandbox
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app

PUBLIC_URL = "http://127.0.0.1:8000"
API_KEY = "api-tests-connected-key-0123456789"
EMAIL = "bob@bluebird.example"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Connected:
    settings: Settings
    connection_id: str
    organization_id: str
    clock: Clock
    sandbox: RunningSandbox

    def refresh_grants(self) -> int:
        entries = self.sandbox.world.journal.entries("accounts.token")
        return sum(1 for e in entries if ("grant_type", "refresh_token") in e.form)


def _connect(web: TestClient, base_url: str) -> str:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    session = web.post("/api/connect-sessions", json={"owner": "user-7"}, headers=auth)
    assert session.status_code == 201, session.text
    to_zoho = web.get(urlsplit(session.json()["connect_url"]).path, follow_redirects=False)
    url = to_zoho.headers["location"]
    with httpx.Client(follow_redirects=False) as browser:
        users = browser.get(base_url + "/_sandbox/users").json()["users"]
        user_id = next(u["user_id"] for u in users if u["email"] == EMAIL)
        answer = browser.post(url, data={"user_id": user_id, "decision": "approve"})
    callback = answer.headers["location"]
    assert web.get(callback[len(PUBLIC_URL) :], follow_redirects=False).status_code == 200
    [conn] = web.get("/api/connections?owner=user-7", headers=auth).json()["connections"]
    return str(conn["id"])


@contextmanager
def connected(tmp_path: Path, *, scopes: Sequence[str] | None = None) -> Iterator[Connected]:
    """A sandbox on a free port and one connection of bob's (one organization) in a vault."""
    clock = Clock()
    dcs = tmp_path / "dcs.json"
    with running_sandbox(data_dir=tmp_path / "sandbox", clock=clock, datacenters_out=dcs) as sb:
        options: dict[str, object] = {}
        if scopes is not None:
            options["scopes"] = list(scopes)
        settings = Settings(
            client_id="1000.APICONNECTED",
            client_secret="api-connected-secret",
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=dcs,
            data_dir=tmp_path / "data",
            public_url=PUBLIC_URL,
            **options,  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            conn_id = _connect(web, sb.base_url)
        bob = sb.world.directory.user_by_email(EMAIL)
        yield Connected(settings, conn_id, bob.organization_ids[0], clock, sb)
