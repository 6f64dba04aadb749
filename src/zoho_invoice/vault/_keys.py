"""The vault's keys: the canary that proves the configured keys open this database, and rotation.

On first start a known text is stored sealed under the first key (the canary); every later start
opens it, so keys that do not match the data are refused at once with a clear message, not at the
first token read (SECURITY 24). ``rotate`` re-seals every sealed value under the first key, after
which the old keys can be removed (SECURITY 23).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .._exceptions import DecryptionError, KeyRingError
from ._connect_sessions import VERIFIER
from ._connections import ACCESS, REFRESH
from ._db_session import SealingStore
from ._keyring import KeyRing
from ._local_writes import bump_generation
from ._models import ConnectionRow, ConnectSessionRow, MetaRow, PendingRevocationRow
from ._revocations import REVOKE

__all__ = ["CANARY_KEY", "Keys"]

CANARY_KEY = "keyring_canary"
_CANARY_PLAINTEXT = "zoho-invoice key-ring canary"
_CANARY_ROW = "meta"


class Keys(SealingStore):
    """The key-ring canary in the ``meta`` table, and re-sealing every table's sealed values."""

    def check(self) -> None:
        """Open the canary; on first start, store it sealed under the first key (SECURITY 24).

        ``KeyRingError`` when the configured keys do not open it.
        """
        with self._db.read() as session:
            canary = session.get(MetaRow, CANARY_KEY)
            sealed = canary.value if canary is not None else None
        if sealed is None:
            try:
                with self._db.write() as session:
                    if session.get(MetaRow, CANARY_KEY) is None:
                        session.add(
                            MetaRow(
                                key=CANARY_KEY,
                                value=self._seal(_CANARY_PLAINTEXT, _CANARY_ROW, CANARY_KEY),
                            )
                        )
                return
            except IntegrityError:  # another instance stored it first: check theirs
                with self._db.read() as session:
                    canary = session.get(MetaRow, CANARY_KEY)
                    assert canary is not None
                    sealed = canary.value
        try:
            if self._open(sealed, _CANARY_ROW, CANARY_KEY) == _CANARY_PLAINTEXT:
                return
        except DecryptionError:
            pass
        try:
            sealed_with = f"key id {KeyRing.key_id_of(sealed)!r}"
        except DecryptionError:
            sealed_with = "an unknown key"
        raise KeyRingError(
            "the encryption keys do not match this database (ZOHO_ENCRYPTION_KEYS): its data is "
            f"sealed with {sealed_with}, and the configured keys "
            f"({', '.join(self._keyring.key_ids)}) do not open it. Set ZOHO_ENCRYPTION_KEYS to "
            "the keys this database was created with (a new key goes first, the old ones after)."
        )

    def rotate(self, *, batch_size: int = 200) -> int:
        """Re-seal every sealed value under the first key; returns how many changed.

        Rows are re-sealed in short batches; a row changed meanwhile by a refresh is re-read,
        not overwritten. Afterwards the old keys can be removed from ``ZOHO_ENCRYPTION_KEYS``.
        """
        changed = 0
        changed += self._rotate_connections(batch_size)
        changed += self._rotate_simple(
            ConnectSessionRow, "code_verifier_sealed", VERIFIER, batch_size
        )
        changed += self._rotate_simple(PendingRevocationRow, "token_sealed", REVOKE, batch_size)
        with self._db.write() as session:
            canary = session.get(MetaRow, CANARY_KEY, with_for_update=True)
            if canary is not None and not self._keyring.is_current(canary.value):
                plain = self._open(canary.value, _CANARY_ROW, CANARY_KEY)
                canary.value = self._seal(plain, _CANARY_ROW, CANARY_KEY)
                changed += 1
        return changed

    def _reseal(self, sealed: str | None, row_id: str, field: str) -> str | None:
        if sealed is None or self._keyring.is_current(sealed):
            return sealed
        return self._seal(self._open(sealed, row_id, field), row_id, field)

    def _reseal_in_batches(
        self, model: Any, batch_size: int, reseal_row: Callable[[Any], int]
    ) -> int:
        """Calls ``reseal_row`` on every row of ``model``, in id order, ``batch_size`` rows
        (locked) per transaction; returns the sum of what it returned (values changed)."""
        changed = 0
        after = ""
        while True:
            with self._db.write() as session:
                rows = session.scalars(
                    select(model)
                    .where(model.id > after)
                    .order_by(model.id)
                    .limit(batch_size)
                    .with_for_update()
                ).all()
                for row in rows:
                    changed += reseal_row(row)
            if len(rows) < batch_size:
                return changed
            after = rows[-1].id

    def _rotate_connections(self, batch_size: int) -> int:
        resealed: list[str] = []

        def reseal_row(row: ConnectionRow) -> int:
            access = self._reseal(row.access_token_sealed, row.id, ACCESS)
            refresh = self._reseal(row.refresh_token_sealed, row.id, REFRESH)
            changed = (access != row.access_token_sealed) + (refresh != row.refresh_token_sealed)
            # Not a token change: the version stays, so no refresher is fenced out.
            row.access_token_sealed = access
            row.refresh_token_sealed = refresh
            if refresh is not None:
                row.key_id = self._keyring.primary_key_id
            if changed:
                resealed.append(row.id)
            return changed

        changed = self._reseal_in_batches(ConnectionRow, batch_size, reseal_row)
        # Committed: this process's token caches re-read those rows at once; other processes
        # see the new ciphertext in the row's stamp within their bound (tokens/_cache.py).
        for connection_id in resealed:
            bump_generation(connection_id)
        return changed

    def _rotate_simple(self, model: Any, column: str, field: str, batch_size: int) -> int:
        def reseal_row(row: Any) -> int:
            old = getattr(row, column)
            new = self._reseal(old, row.id, field)
            if new == old:
                return 0
            setattr(row, column, new)
            return 1

        return self._reseal_in_batches(model, batch_size, reseal_row)
