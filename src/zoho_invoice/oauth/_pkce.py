"""PKCE (RFC 7636, S256) and the ``state`` value (SECURITY 5, 11)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

__all__ = ["code_challenge", "make_code_verifier", "new_state"]

# RFC 7636 section 4.1: 43 to 128 unreserved characters.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def make_code_verifier() -> str:
    """A fresh PKCE code verifier: 86 url-safe characters (512 bits) from ``secrets``."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: ``BASE64URL(SHA256(verifier))`` without padding."""
    if not _VERIFIER.fullmatch(verifier):
        raise ValueError("a PKCE code verifier is 43 to 128 characters of [A-Za-z0-9-._~]")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """A fresh, opaque ``state``: 256 bits from ``secrets``, url-safe (43 characters)."""
    return secrets.token_urlsafe(32)
