"""Unit tests of PKCE and state generation (SECURITY 5, 11)."""

from __future__ import annotations

import base64
import re

import pytest

from zoho_invoice.oauth import code_challenge, make_code_verifier, new_state


def test_s11_code_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s11_verifier_is_43_to_128_unreserved_chars_and_fresh() -> None:
    verifiers = {make_code_verifier() for _ in range(200)}
    assert len(verifiers) == 200
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code_challenge(verifier))


@pytest.mark.parametrize("bad", ["short", "x" * 129, "a" * 42, "a" * 50 + " ", "ä" * 43])
def test_s11_malformed_verifier_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        code_challenge(bad)


def test_s05_state_is_256_bits_url_safe_and_opaque() -> None:
    states = {new_state() for _ in range(500)}
    assert len(states) == 500
    raw = []
    for state in states:
        # url-safe as it stands (no padding, nothing to escape in a query or a cookie) ...
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", state)
        # ... and at least 256 bits once decoded.
        decoded = base64.urlsafe_b64decode(state + "=" * (-len(state) % 4))
        assert len(decoded) >= 32
        raw.append(int.from_bytes(decoded[:32], "big"))
    # Opaque: none of the 256 bits is fixed (no version byte, timestamp, counter or session id
    # in it) - every bit takes both values across 500 states (a false alarm has odds 2**-490).
    ones = 0
    zeros = 0
    for value in raw:
        ones |= value
        zeros |= ~value & ((1 << 256) - 1)
    assert ones == zeros == (1 << 256) - 1
