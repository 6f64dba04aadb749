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
import threading
import time
from pathlib import Path

from sqlalchemy import text

from zoho_invoice.vault import KeyRing, Vault

WRITER = textwrap.dedent(
    """
    import sys
    import time
    from datetime import UTC, datetime, timedelta

    from zoho_invoice import VaultUnavailableError
    from zoho_invoice.oauth._types import TokenSet
    from zoho_invoice.vault import KeyRing, Vault

    url, keys, name = sys.argv[1], sys.argv[2], sys.argv[3]
    vault = Vault.open(url, KeyRing.from_string(keys))
    expires = datetime.now(UTC) + timedelta(hours=1)
    i = 0
    while True:
        owner = f"{name}-{i}"
        tokens = TokenSet(f"1000.acc.{owner}", f"1000.ref.{owner}", expires, None, "Bearer", None)
        try:
            connection, _ = vault.save_connection(
                owner=owner, location="us", api_domain="https://www.zohoapis.com",
                scopes=["ZohoInvoice.invoices.READ"], tokens=tokens,
            )
            version = vault.load_tokens(connection.id).version
            vault.store_refreshed(
                connection.id, expected_version=version,
                access_token=f"1000.fresh.{owner}", expires_at=expires,
            )
        except VaultUnavailableError:  # the other writer held the lock too long: try again
            continue
        print(connection.id, owner, flush=True)
        i += 1
        time.sleep(0.002)  # a real worker does other work between writes
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
    counts = [0, 0]
    lock = threading.Lock()

    def read(index: int, writer: subprocess.Popen[str]) -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            cid, owner = line.split()
            with lock:
                reported[cid] = owner
                counts[index] += 1

    readers = [
        threading.Thread(target=read, args=(i, writer), daemon=True)
        for i, writer in enumerate(writers)
    ]
    for reader in readers:
        reader.start()
    try:
        # Let both commit for a while, then kill each in the middle of whatever it does.
        deadline = time.monotonic() + 60
        while min(counts) < 10:
            assert time.monotonic() < deadline, f"writers too slow: {counts}"
            assert all(w.poll() is None for w in writers), "a writer died"
            time.sleep(0.01)
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
    finally:
        for writer in writers:
            writer.kill()
            writer.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
        for writer in writers:
            assert writer.stderr is not None and writer.stdout is not None
            err = writer.stderr.read()
            writer.stderr.close()
            writer.stdout.close()
            assert "Traceback" not in err, err
    assert [w.returncode for w in writers] == [-signal.SIGKILL, -signal.SIGKILL]

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
