"""Unit tests of log redaction (SECURITY 38): masks, CR/LF escaping, the logging filter."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zoho_invoice._redact import (
    MASK,
    RedactingFilter,
    install_redacting_filter,
    install_redaction,
    redact,
)

SECRET_KEYS = [
    "code",
    "state",
    "code_verifier",
    "client_secret",
    "refresh_token",
    "access_token",
    "token",
]
URL_SAFE = string.ascii_letters + string.digits + "-_.~"


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_s38_query_and_form_values_are_masked(key: str) -> None:
    text = f"GET /cb?x=1&{key}=s3cr3tValue99&location=eu"
    out = redact(text)
    assert "s3cr3tValue99" not in out
    assert f"{key}={MASK}" in out
    assert "location=eu" in out and "x=1" in out


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_s38_json_and_repr_values_are_masked(key: str) -> None:
    assert "hunter2xyz" not in redact(f'{{"{key}": "hunter2xyz", "status": "ok"}}')
    assert "hunter2xyz" not in redact(f"{{'{key}': 'hunter2xyz'}}")
    assert "hunter2xyz" not in redact(f"Thing({key}='hunter2xyz')")


def test_s38_zoho_tokens_are_masked_anywhere() -> None:
    token = "1000.8cb99dxxxxxxxxxxxxx9be93.9b8xxxxxxxxxxxxxxxf"
    hex_token = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
    out = redact(f"refreshed {hex_token} for tenant")
    assert "0123456789abcdef" not in out
    assert "refreshed 1000." in out and "for tenant" in out
    assert "9be93" not in redact(f"access_token={token}")


@pytest.mark.parametrize(
    "header",
    [
        "Authorization: Zoho-oauthtoken 1000.abc.def",
        "authorization: Bearer opaque-secret-value",
        "{'Authorization': 'Zoho-oauthtoken opaque-secret-value'}",
        "Authorization=Basic b3BhcXVlLXNlY3JldC12YWx1ZQ==",
    ],
)
def test_s38_authorization_headers_are_masked(header: str) -> None:
    out = redact(header)
    assert "opaque-secret-value" not in out and "abc.def" not in out
    assert "b3BhcXVl" not in out
    assert MASK in out


def test_s38_connect_session_token_in_path_is_masked() -> None:
    out = redact("GET /connect/Zx9_aaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1")
    assert "Zx9_" not in out and "/connect/" in out


def test_s38_workflow_webhook_token_in_path_is_masked() -> None:
    # uvicorn's access line for a Zoho workflow rule's call to the mirror's trigger URL.
    token = "Qw3_" + "b" * 39
    out = redact(f'127.0.0.1:5123 - "POST /zoho/webhooks/{token} HTTP/1.1" 202')
    assert token not in out and "Qw3_" not in out and "/zoho/webhooks/" in out


def test_s48_webhook_secret_is_masked() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    out = redact(f"ZOHO_WEBHOOK_SECRET={secret} ({secret!r})")
    assert "MfKQ9r8" not in out and out.count("whsec_[redacted]") == 2
    assert redact(out) == out


def test_similar_names_are_left_alone() -> None:
    text = "error_code=57 statecode=1 zip_code=123 status=active location=eu"
    assert redact(text) == text


def test_s38_crlf_is_escaped_so_lines_cannot_be_forged() -> None:
    out = redact("owner=alice\r\n2026-01-01 INFO admin logged in\u2028x\x1b[31m")
    assert "\n" not in out and "\r" not in out and "\u2028" not in out and "\x1b" not in out
    assert "alice\\r\\n2026" in out


@given(
    key=st.sampled_from(SECRET_KEYS),
    value=st.text(alphabet=URL_SAFE, min_size=8, max_size=64),
    prefix=st.text(max_size=40),
    suffix=st.text(max_size=40),
    sep=st.sampled_from(["&", " ", "\n", ";", ",", '"']),
)
def test_s38_property_secret_values_never_survive(
    key: str, value: str, prefix: str, suffix: str, sep: str
) -> None:
    assume(value not in prefix and value not in suffix)
    assume(not value.startswith("[redacted]"))
    out = redact(f"{prefix} {key}={value}{sep}{suffix}")
    assert value not in out


@given(st.text(max_size=200))
def test_s38_property_no_raw_line_breaks_and_stable(text: str) -> None:
    out = redact(text)
    assert not any(ch in out for ch in "\r\n\x85\u2028\u2029")
    assert redact(out) == out


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=200))
def test_property_text_without_secrets_is_unchanged(text: str) -> None:
    lowered = text.lower()
    assume("=" not in text and ":" not in text and "1000." not in text)
    assume("bearer" not in lowered and "oauthtoken" not in lowered and "/connect/" not in text)
    assume("whsec_" not in text)
    assert redact(text) == text


def test_s38_filter_redacts_messages_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test_redact.filter")
    install_redacting_filter(log)
    install_redacting_filter(log)  # idempotent
    assert sum(isinstance(f, RedactingFilter) for f in log.filters) == 1
    with caplog.at_level(logging.INFO, logger=log.name):
        log.info("callback %s", "code=abcdef123456&state=zzzzzzzzzz\nFAKE LINE")
        try:
            raise ValueError("client_secret=topsecret999")
        except ValueError:
            log.exception("failed with %s", {"refresh_token": "1000.aa11.bb22"})
    text = caplog.text
    assert "abcdef123456" not in text and "zzzzzzzzzz" not in text
    assert "topsecret999" not in text and "aa11" not in text
    assert "\\nFAKE LINE" in text
    assert "Traceback" in text  # the traceback itself is kept, masked


def test_filter_survives_a_broken_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d token=abc123456", ("no",), None)
    assert RedactingFilter().filter(record)
    assert "abc123456" not in record.getMessage()


def test_s38_filter_keeps_args_a_tuple_for_formatters_that_unpack_them() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/callback?code=abc123456&state=zzz999", "1.1", 400),
        None,
    )
    assert RedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    _client, _method, path, _version, status = record.args  # what uvicorn's formatter does
    assert status == 400
    assert isinstance(path, str)
    assert "abc123456" not in record.getMessage() and "zzz999" not in path


def test_s38_install_redaction_covers_child_loggers(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction("test_redact_tree")
    child = logging.getLogger("test_redact_tree.http11.deep")
    with caplog.at_level(logging.DEBUG, logger="test_redact_tree"):
        child.debug("send_request_body %s", {"client_secret": "s3cr3t-value"})
        child.info("url %s", _Url("https://a.example/revoke?token=1000.aa11.bb22"))
    assert "s3cr3t-value" not in caplog.text and "aa11" not in caplog.text
    assert "token=[redacted]" in caplog.text
    other = logging.LogRecord(
        "test_redact_other", logging.INFO, __file__, 1, "code=%s", ("x",), None
    )
    assert other.getMessage() == "code=x"  # loggers not named are left alone


class _Url:
    """An object whose text holds a secret (like an httpx URL)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text
