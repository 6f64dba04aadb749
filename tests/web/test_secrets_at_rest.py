"""Integration test: nothing secret is stored in plaintext (SECURITY 21), searched in the raw
bytes a thief would get: the SQLite file with its ``-wal`` and ``-shm`` (read while the vault is
open, so the write-ahead log still holds the newest pages), and a ``pg_dump`` of PostgreSQL.

The plaintexts are the real ones of real flows through the service and the sandbox: the connect
session tokens, the ``state`` values, the authorization codes and PKCE verifiers (from the
sandbox's journal), the binding cookies (from the browser's jar), every token the sandbox minted
(read off its answers on the wire), the client secret, the API key and the encryption key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from support import missing, postgres_schema
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing
from zoho_invoice_sandbox import Fault

if TYPE_CHECKING:
    from web._harness import Harness

PG_DUMP = shutil.which("pg_dump") or "/usr/bin/pg_dump"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """``None`` (SQLite in the data directory) or a PostgreSQL URL with a schema of its own."""
    if request.param == "sqlite":
        yield None
        return
    base = os.environ.get("ZOHO_TEST_POSTGRES_URL", "")
    if not base:
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    if not Path(PG_DUMP).exists():
        missing("pg_dump is not installed (apt-get install postgresql-client)")
    with postgres_schema(base, "dump") as url:
        yield url


@pytest.fixture
def key_entry() -> str:
    return KeyRing.generate_entry()


@pytest.fixture
def dump_harness(
    make_harness: Callable[..., Harness], database: str | None, key_entry: str
) -> Harness:
    overrides: dict[str, Any] = {"encryption_keys": SecretStr(key_entry)}
    if database is not None:
        overrides["database_url"] = database
    return make_harness(**overrides)


def raw_bytes(harness: Harness, database: str | None) -> bytes:
    """What sits on disk (SQLite: the file, its WAL and shared memory) or in a dump."""
    if database is None:
        path = Path(harness.vault.engine.url.database or "")
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert all(f.exists() for f in files), files
        # The WAL is not checkpointed away: the newest writes are in it.
        assert files[1].stat().st_size > 0
        return b"".join(f.read_bytes() for f in files)
    url = os.environ["ZOHO_TEST_POSTGRES_URL"]
    schema = database.rsplit("search_path%3D", 1)[1]
    dump = subprocess.run(
        [PG_DUMP, "--dbname", url, "--schema", schema],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dump.stdout


def test_s21_no_plaintext_secret_in_the_database_files_or_a_dump(
    dump_harness: Harness, database: str | None, key_entry: str
) -> None:
    harness = dump_harness
    minted: list[dict[str, Any]] = []

    def record(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if response.status_code == 200 and "access_token" in response.json():
            minted.append(response.json())
        return response

    harness.oauth_transport.tamper = record
    cookies: set[str] = set()
    sessions: list[str] = []
    states: list[str] = []

    def start(owner: str) -> str:
        url = harness.connect_url(owner)
        sessions.append(url.rsplit("/", 1)[1])
        authorize = harness.web.get(url, follow_redirects=False).headers["location"]
        states.append(harness.params(authorize)["state"])
        cookies.update(c.value for c in harness.web.cookies.jar if c.value)
        return str(authorize)

    def finish(authorize: str, email: str) -> None:
        assert harness.callback(harness.consent(authorize, email)).status_code == 200

    # A connection refreshed once; one disconnected whose revoke Zoho has not taken yet (the
    # refresh token waits, sealed, in the queue); a flow left at Zoho's consent page; an unused
    # connect session.
    finish(start("dump-bob"), "bob@bluebird.example")
    [bob] = harness.vault.list_connections(owner="dump-bob")
    row = harness.vault.load_tokens(bob.id)
    assert row.access_token is not None
    harness.vault.store_refreshed(
        bob.id,
        expected_version=row.version,
        access_token=row.access_token,
        expires_at=time.time() + 30,
    )
    refreshed = harness.api("POST", f"/api/connections/{bob.id}/access-token")
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != row.access_token

    finish(start("dump-franz"), "franz@fischer.example")
    [franz] = harness.vault.list_connections(owner="dump-franz")
    harness.world.faults.add("accounts.revoke", Fault(status=503), times=5)
    assert harness.api("DELETE", f"/api/connections/{franz.id}").status_code == 204
    assert len(harness.vault.due_revocations(now=time.time() + 3600)) == 1

    pending = start("dump-alice")
    sessions.append(harness.connect_url("dump-unused").rsplit("/", 1)[1])
    snapshots = [raw_bytes(harness, database)]

    # Only now does the pending flow's verifier show (at the code exchange): it was in the
    # database, sealed, when the first snapshot was taken.
    finish(pending, "alice@acme.example")
    snapshots.append(raw_bytes(harness, database))

    exchanges = [dict(e.form) for e in harness.world.journal.entries("accounts.token")]
    codes = [f["code"] for f in exchanges if f.get("grant_type") == "authorization_code"]
    verifiers = [
        f["code_verifier"] for f in exchanges if f.get("grant_type") == "authorization_code"
    ]
    tokens = [t["access_token"] for t in minted] + [
        t["refresh_token"] for t in minted if "refresh_token" in t
    ]
    assert len(codes) == len(verifiers) == 3
    assert len(minted) == 4 and len(tokens) == 7  # three exchanges, one refresh
    assert len(sessions) == 4 and len(states) == 3 and cookies
    secrets = {
        "client secret": [harness.client_secret],
        "API key": [harness.api_key],
        "session token": sessions,
        "state": states,
        "authorization code": codes,
        "code verifier": verifiers,
        "binding cookie": sorted(cookies),
        "token": tokens,
        "encryption key": [key_entry.split(":", 1)[1]],
    }
    for raw in snapshots:
        assert b"dump-bob" in raw and b"dump-franz" in raw  # the search does see the data
        found = [
            f"{kind} #{i}"
            for kind, values in secrets.items()
            for i, value in enumerate(values)
            if value.encode() in raw
        ]
        assert found == []
