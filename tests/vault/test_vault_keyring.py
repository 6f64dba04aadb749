"""Unit tests of the key ring: AES-256-GCM sealing, bound to row, field and key (no database)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoho_invoice import DecryptionError, KeyRingError
from zoho_invoice.vault import KeyRing

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()


def ring(text: str = f"ka:{KEY_A}") -> KeyRing:
    return KeyRing.from_string(text)


def test_seal_then_open_gives_the_plaintext_back() -> None:
    keys = ring()
    sealed = keys.seal("1000.abc.def", row_id="r1", field="refresh_token")
    assert keys.open(sealed, row_id="r1", field="refresh_token") == "1000.abc.def"


def test_sealed_value_is_compact_ascii_naming_its_key_and_hiding_the_plaintext() -> None:
    sealed = ring().seal("1000.abc.def", row_id="r1", field="access_token")
    assert sealed.startswith("v1:ka:")
    assert sealed.isascii() and "\n" not in sealed
    assert "1000.abc.def" not in sealed


def test_each_seal_uses_a_fresh_nonce() -> None:
    keys = ring()
    first = keys.seal("same", row_id="r1", field="access_token")
    second = keys.seal("same", row_id="r1", field="access_token")
    assert first != second
    assert keys.open(first, row_id="r1", field="access_token") == "same"


def test_s22_ciphertext_copied_to_another_row_does_not_open() -> None:
    keys = ring()
    sealed = keys.seal("1000.secret", row_id="row-a", field="refresh_token")
    with pytest.raises(DecryptionError):
        keys.open(sealed, row_id="row-b", field="refresh_token")


def test_s22_ciphertext_copied_to_another_field_does_not_open() -> None:
    keys = ring()
    sealed = keys.seal("1000.secret", row_id="row-a", field="access_token")
    with pytest.raises(DecryptionError):
        keys.open(sealed, row_id="row-a", field="refresh_token")


def test_s22_ciphertext_relabelled_with_another_key_id_does_not_open() -> None:
    # Both keys are the same bytes: only the key id in the associated data differs.
    keys = KeyRing.from_string(f"ka:{KEY_A},kb:{KEY_A}")
    sealed = keys.seal("1000.secret", row_id="r", field="access_token")
    relabelled = sealed.replace("v1:ka:", "v1:kb:", 1)
    with pytest.raises(DecryptionError):
        keys.open(relabelled, row_id="r", field="access_token")


def test_s22_tampered_ciphertext_does_not_open() -> None:
    keys = ring()
    sealed = keys.seal("1000.secret", row_id="r", field="access_token")
    body = sealed.rsplit(":", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError):
        keys.open(f"v1:ka:{flipped}", row_id="r", field="access_token")
    with pytest.raises(DecryptionError):
        keys.open("v1:ka:", row_id="r", field="access_token")
    with pytest.raises(DecryptionError):
        keys.open("not sealed at all", row_id="r", field="access_token")


def test_s22_wrong_key_does_not_open_and_says_which_key_id_is_needed() -> None:
    sealed = ring(f"ka:{KEY_A}").seal("1000.secret", row_id="r", field="access_token")
    with pytest.raises(DecryptionError, match="ka") as caught:
        ring(f"kb:{KEY_B}").open(sealed, row_id="r", field="access_token")
    assert "1000.secret" not in str(caught.value)
    # Same id, other bytes: the tag check fails.
    with pytest.raises(DecryptionError):
        ring(f"ka:{KEY_B}").open(sealed, row_id="r", field="access_token")


def test_s23_first_key_seals_and_every_key_opens() -> None:
    old = ring(f"old:{KEY_A}")
    sealed_old = old.seal("t", row_id="r", field="f")
    both = KeyRing.from_string(f"new:{KEY_B},old:{KEY_A}")
    assert both.primary_key_id == "new"
    assert both.key_ids == ("new", "old")
    assert both.open(sealed_old, row_id="r", field="f") == "t"
    sealed_new = both.seal("t", row_id="r", field="f")
    assert KeyRing.key_id_of(sealed_new) == "new"
    assert both.is_current(sealed_new) and not both.is_current(sealed_old)
    # Once rotated, the old key can go.
    assert ring(f"new:{KEY_B}").open(sealed_new, row_id="r", field="f") == "t"


def test_generate_entry_makes_a_usable_distinct_key() -> None:
    first, second = KeyRing.generate_entry(), KeyRing.generate_entry()
    assert first != second
    key_id, _, encoded = first.partition(":")
    assert len(base64.b64decode(encoded)) == 32
    keys = KeyRing.from_string(f"{first},{second}")
    assert keys.primary_key_id == key_id
    assert keys.open(keys.seal("x", row_id="r", field="f"), row_id="r", field="f") == "x"


def test_urlsafe_base64_and_missing_padding_are_accepted() -> None:
    raw = bytes([251] * 32)  # encodes with '+' and '/' in standard base64
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    keys = KeyRing.from_string(f" k1 : {urlsafe} ")
    std = KeyRing.from_string(f"k1:{base64.b64encode(raw).decode()}")
    assert std.open(keys.seal("x", row_id="r", field="f"), row_id="r", field="f") == "x"


SHORT_KEY = base64.b64encode(b"0123456789abcdef").decode()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "keys generate"),
        ("", "keys generate"),
        ("   ", "keys generate"),
        (KEY_A, "no key id"),
        (f":{KEY_A}", "empty key id"),
        (f"bad id!:{KEY_A}", "letters, digits"),
        (f"k1:{KEY_A},k1:{KEY_B}", "used twice"),
        (f"k1:{KEY_A},", "entry 2 is empty"),
        ("k1:%%%%not-base64%%%%", "not valid base64"),
        (f"k1:{SHORT_KEY}", "must be 32 bytes"),
    ],
)
def test_malformed_keys_are_refused_with_a_message_naming_the_problem(
    text: str | None, problem: str
) -> None:
    with pytest.raises(KeyRingError, match=problem) as caught:
        KeyRing.from_string(text)
    message = str(caught.value)
    for material in (KEY_A, KEY_B, SHORT_KEY, "%%%%not-base64%%%%"):
        assert material not in message


def test_repr_shows_key_ids_but_no_key_material() -> None:
    keys = KeyRing.from_string(f"ka:{KEY_A},kb:{KEY_B}")
    assert repr(keys) == "KeyRing(key_ids=['ka', 'kb'])"
    raw_a = bytes(range(32))
    assert KEY_A not in repr(keys) and str(raw_a) not in repr(keys)


@given(plaintext=st.text(), row_id=st.text(min_size=1), field=st.text(min_size=1))
def test_property_seal_open_round_trip_and_binding(plaintext: str, row_id: str, field: str) -> None:
    keys = ring()
    sealed = keys.seal(plaintext, row_id=row_id, field=field)
    assert sealed.isascii()
    assert keys.open(sealed, row_id=row_id, field=field) == plaintext
    with pytest.raises(DecryptionError):
        keys.open(sealed, row_id=row_id + "x", field=field)
    with pytest.raises(DecryptionError):
        keys.open(sealed, row_id=row_id, field=field + "x")
