"""The key ring: AES-256-GCM sealing of tokens and secrets at rest (SECURITY 21-24).

Keys come from ``ZOHO_ENCRYPTION_KEYS`` as comma-separated ``key_id:base64(32 bytes)``. The first
key seals; every key opens, so a new key can be put first and rows sealed under the old one keep
working until ``zoho-invoice keys rotate`` has re-sealed them.

A sealed value is one ASCII string, ``v1:<key_id>:<base64url(nonce || ciphertext+tag)>``. The
associated data binds it to the row, the field and the key id, so a ciphertext copied into another
row or field, or relabelled with another key id, does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._exceptions import DecryptionError, KeyRingError

__all__ = ["KeyRing"]

_FORMAT = "v1"
_NONCE_BYTES = 12  # 96-bit nonces, random per seal: the size GCM is made for
_KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Told whenever keys are missing, so the fix is one copy-paste away.
HOW_TO_MAKE_A_KEY = (
    "make one with `zoho-invoice keys generate` and set ZOHO_ENCRYPTION_KEYS=<its output>"
)


def _decode_key(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; ``None`` when it is neither."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _associated_data(key_id: str, row_id: str, field: str) -> bytes:
    # JSON keeps the parts apart whatever characters a row id holds.
    return json.dumps([_FORMAT, key_id, row_id, field], separators=(",", ":")).encode()


class KeyRing:
    """Encryption keys, the first of which seals.

    >>> ring = KeyRing.from_string(KeyRing.generate_entry())
    >>> sealed = ring.seal("1000.abc", row_id="c1", field="refresh_token")
    >>> ring.open(sealed, row_id="c1", field="refresh_token")
    '1000.abc'
    """

    __slots__ = ("_aead", "_ids")

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        ids: list[str] = []
        aead: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys, start=1):
            if not _KEY_ID.fullmatch(key_id):
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position}: the key id must be 1-64 letters, "
                    "digits, '_' or '-'"
                )
            if key_id in aead:
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position}: the key id {key_id!r} is used twice"
                )
            if len(key) != _KEY_BYTES:
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position} (key id {key_id!r}): the key must be "
                    f"{_KEY_BYTES} bytes, it is {len(key)}; {HOW_TO_MAKE_A_KEY}"
                )
            ids.append(key_id)
            aead[key_id] = AESGCM(key)
        if not ids:
            raise KeyRingError(
                f"no encryption keys (ZOHO_ENCRYPTION_KEYS is empty); {HOW_TO_MAKE_A_KEY}"
            )
        self._ids: tuple[str, ...] = tuple(ids)
        self._aead = aead

    @classmethod
    def from_string(cls, text: str | None) -> KeyRing:
        """Parse ``key_id:base64,key_id:base64``; ``KeyRingError`` names what is wrong.

        The messages name entries by position and key id, never by key material.
        """
        if text is None or not text.strip():
            raise KeyRingError(
                f"no encryption keys (ZOHO_ENCRYPTION_KEYS is not set); {HOW_TO_MAKE_A_KEY}"
            )
        keys: list[tuple[str, bytes]] = []
        for position, raw in enumerate(text.split(","), start=1):
            entry = raw.strip()
            if not entry:
                raise KeyRingError(f"ZOHO_ENCRYPTION_KEYS entry {position} is empty")
            key_id, colon, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not colon:
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position} has no key id: write it as "
                    f"key_id:base64; {HOW_TO_MAKE_A_KEY}"
                )
            if not key_id:
                raise KeyRingError(f"ZOHO_ENCRYPTION_KEYS entry {position} has an empty key id")
            if not _KEY_ID.fullmatch(key_id):
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position}: the key id must be 1-64 letters, "
                    "digits, '_' or '-'"
                )
            key = _decode_key(encoded)
            if key is None:
                raise KeyRingError(
                    f"ZOHO_ENCRYPTION_KEYS entry {position} (key id {key_id!r}): the key is not "
                    "valid base64"
                )
            keys.append((key_id, key))
        return cls(keys)

    @staticmethod
    def generate_entry(key_id: str | None = None) -> str:
        """A new ``key_id:base64`` entry: 32 random bytes under a fresh, dated key id."""
        if key_id is None:
            key_id = f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(3)}"
        if not _KEY_ID.fullmatch(key_id):
            raise KeyRingError("the key id must be 1-64 letters, digits, '_' or '-'")
        return f"{key_id}:{base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()}"

    @property
    def primary_key_id(self) -> str:
        """The id of the key that seals new values."""
        return self._ids[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the sealing one first."""
        return self._ids

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={list(self._ids)!r})"

    def seal(self, plaintext: str, *, row_id: str, field: str) -> str:
        """Encrypt ``plaintext`` under the first key, bound to ``row_id`` and ``field``."""
        key_id = self._ids[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ciphertext = self._aead[key_id].encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(key_id, row_id, field)
        )
        body = base64.urlsafe_b64encode(nonce + ciphertext).rstrip(b"=").decode("ascii")
        return f"{_FORMAT}:{key_id}:{body}"

    def open(self, sealed: str, *, row_id: str, field: str) -> str:
        """Decrypt a value sealed for ``row_id`` and ``field``; ``DecryptionError`` otherwise."""
        key_id = self.key_id_of(sealed)
        aead = self._aead.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"the value for {field!r} is sealed with key id {key_id!r}, which is not in "
                "ZOHO_ENCRYPTION_KEYS"
            )
        body = sealed.split(":", 2)[2]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError(f"the sealed value for {field!r} is damaged") from None
        if len(blob) < _NONCE_BYTES + 16:
            raise DecryptionError(f"the sealed value for {field!r} is damaged")
        try:
            plaintext = aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _associated_data(key_id, row_id, field)
            )
        except InvalidTag:
            raise DecryptionError(
                f"the sealed value for {field!r} does not open: wrong key, or it belongs to "
                "another row or field"
            ) from None
        return plaintext.decode("utf-8")

    @staticmethod
    def key_id_of(sealed: str) -> str:
        """The key id a sealed value names; ``DecryptionError`` if it is not a sealed value."""
        parts = sealed.split(":", 2)
        if len(parts) != 3 or parts[0] != _FORMAT or not _KEY_ID.fullmatch(parts[1]):
            raise DecryptionError("not a sealed value (expected v1:<key_id>:<data>)")
        return parts[1]

    def is_current(self, sealed: str) -> bool:
        """Whether ``sealed`` is already under the sealing key (rotation skips it)."""
        return self.key_id_of(sealed) == self._ids[0]
