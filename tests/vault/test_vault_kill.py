"""End-to-end test of crash safety (SECURITY 41): real writer processes, SIGKILLed mid-write.

Two processes save, refresh and reconnect connections in a loop on one SQLite file; each prints a
line only after its transaction committed. Both are killed at an arbitrary moment; the database must
open cleanly with every reported connection intact and no half-written row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import text

from zoho_invoice.vault import KeyRing, Vault

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta

    from zoho_invoice.oauth._types import TokenSet
    from zoho_invoice.vault import KeyRing, Vault

    url, keys, name = sys.argv[1], sys.argv[2], sys.argv[3]
    vault = Vault.open(url, KeyRing.from_string(keys))
    expires = datetime.now(UTC) + timedelta(hours=1)
    i = 0
    while True:
        owner = f"{name}-{i}"
        tokens = TokenSet(f"1000.acc.{owner}", f"1000.ref.{owner}", expires, None, "Bearer", None)
        connection, _ = vault.save_connection(
            owner=owner, location="us", api_domain="https://www.zohoapis.com",
            scopes=["ZohoInvoice.invoices.READ"], tokens=tokens,
        )
        version = vault.load_tokens(connection.id).version
        vault.store_refreshed(
            connection.id, expected_version=version,
            access_token=f"1000.fresh.{owner}", expires_at=expires,
        )
        print(connection.id, owner, flush=True)
        i += 1
    """
)


def test_s41_killed_writers_lose_no_committed_connection(tmp_path: Path) -> None:
    keys = KeyRing.generate_entry("k1")
    keyring = KeyRing.from_string(keys)
    url = f"sqlite:///{tmp_path / 'zoho.db'}"
    Vault.open(url, keyring, upgrade=True).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), url, keys, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("w1", "w2")
    ]
    reported: dict[str, str] = {}
    try:
        assert writers[0].stdout is not None
        # Let them commit for a while, then kill each in the middle of whatever it does.
        for _ in range(25):
            line = writers[0].stdout.readline()
            assert line, writers[0].stderr.read() if writers[0].stderr else "writer died"
            cid, owner = line.split()
            reported[cid] = owner
        time.sleep(0.05)
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
    finally:
        for writer in writers:
            writer.kill()
            out, err = writer.communicate(timeout=10)
            for line in out.splitlines():
                cid, owner = line.split()
                reported[cid] = owner
            assert "Traceback" not in err, err
    assert writers[1].returncode == -signal.SIGKILL
    assert any(owner.startswith("w2-") for owner in reported.values())

    vault = Vault.open(url, keyring)
    try:
        with vault.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        for cid, owner in reported.items():
            stored = vault.load_tokens(cid)
            assert stored.access_token == f"1000.fresh.{owner}"
            assert stored.refresh_token == f"1000.ref.{owner}"
            assert vault.get_connection(cid).owner == owner
        # Rows committed after the last report are whole too: every token opens and matches.
        connections = vault.list_connections()
        assert len(connections) >= len(reported)
        for connection in connections:
            stored = vault.load_tokens(connection.id)
            assert stored.access_token in (
                f"1000.acc.{connection.owner}",
                f"1000.fresh.{connection.owner}",
            )
            assert stored.refresh_token == f"1000.ref.{connection.owner}"
    finally:
        vault.close()
