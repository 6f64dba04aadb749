"""This process's writes to connections, as numbers a cache can compare without any I/O.

A token cache (``tokens/_cache.py``) may serve a connection's access token from memory for up to
its staleness bound; a write made in *this* process (a disconnect from the web app, a
``needs_reauth`` verdict, a reconnect, a refresh, a key rotation re-sealing the row) must win at
once, whichever ``Vault`` object made it. Every write to a connection's row therefore bumps that
connection's *write generation* here, and the cache keeps the generation it read before it read
the row: a different number means "read the row again".

The generations live in a fixed table of buckets (a connection id hashes to one), so memory stays
bounded whatever the number of connections; two connections sharing a bucket only cost a spare
re-check, never a stale answer. Other processes' writes are not seen here: the cache bounds them
with its row check (``Connections.access_stamp``).
"""

from __future__ import annotations

import threading
from functools import partial

from ._unit_of_work import after_commit

__all__ = ["bump_generation", "write_generation"]

_BUCKETS = 4096
_generations = [0] * _BUCKETS
_bump_lock = threading.Lock()


def write_generation(connection_id: str) -> int:
    """The generation of ``connection_id``'s row in this process (no I/O, no lock)."""
    return _generations[hash(connection_id) % _BUCKETS]


def bump_generation(connection_id: str) -> None:
    """Record that this process wrote ``connection_id``'s row: call it once the write is done.
    Inside a unit of work (``vault.unit_of_work()``) the bump waits for the unit's commit (and
    never happens after a rollback); outside one, the write has committed and it happens now. A
    reader that took the old generation before reading the row then sees a change, whichever
    row version it read."""
    after_commit(partial(_bump, hash(connection_id) % _BUCKETS))


def _bump(bucket: int) -> None:
    with _bump_lock:
        _generations[bucket] += 1
