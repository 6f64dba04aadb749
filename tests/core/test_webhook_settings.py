"""Unit tests of the webhook settings (SECURITY 48): a webhook URL needs a Standard Webhooks
secret of at least 24 bytes and https (plain http only on a loopback IP literal), or the
start-up stops with a ``ConfigurationError`` that never shows the secret."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr

from zoho_invoice._exceptions import ConfigurationError
from zoho_invoice.settings import Settings, check_webhook_secret


def secret_of(size: int) -> str:
    return "whsec_" + base64.b64encode(os.urandom(size)).decode()


GOOD = secret_of(32)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/zoho",
        "https://hooks.example.com:8443/zoho?tenant=7",
        "http://127.0.0.1:8080/hooks",
        "http://127.9.9.9/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_s48_https_or_loopback_http_with_a_strong_secret_is_accepted(url: str) -> None:
    url_back, secret = Settings(webhook_url=url, webhook_secret=GOOD).require_webhook() or ("", "")
    assert url_back == url and isinstance(secret, SecretStr)
    assert GOOD not in repr(Settings(webhook_url=url, webhook_secret=GOOD))


def test_s48_no_webhook_url_means_events_are_only_logged() -> None:
    assert Settings().require_webhook() is None
    assert Settings(webhook_url="").require_webhook() is None


@pytest.mark.parametrize("secret", [None, ""])
def test_s48_a_webhook_url_without_a_secret_stops_the_start_up(secret: str | None) -> None:
    settings = Settings(webhook_url="https://hooks.example.com/zoho", webhook_secret=secret)
    with pytest.raises(ConfigurationError, match="ZOHO_WEBHOOK_SECRET is not"):
        settings.require_webhook()


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (secret_of(16), "holds 16 bytes"),
        (secret_of(23), "holds 23 bytes"),
        (secret_of(65), "holds 65 bytes"),
        ("x", "not in Standard Webhooks form"),
        ("a-raw-secret-that-is-long-enough-1234567890", "not in Standard Webhooks form"),
        ("whsec_" + "!" * 40, "not base64"),
        ("whsec_", "holds 0 bytes"),
    ],
)
def test_s48_a_short_or_malformed_secret_stops_the_start_up(secret: str, problem: str) -> None:
    settings = Settings(webhook_url="https://hooks.example.com/zoho", webhook_secret=secret)
    with pytest.raises(ConfigurationError, match=problem) as info:
        settings.require_webhook()
    message = str(info.value)
    assert "ZOHO_WEBHOOK_SECRET" in message and "whsec_" in message  # says what to do
    assert secret == "whsec_" or secret.removeprefix("whsec_") not in message


def test_s48_a_secret_of_24_bytes_is_the_least_accepted() -> None:
    assert len(check_webhook_secret(secret_of(24))) == 24
    unpadded = secret_of(25).rstrip("=")  # the reference libraries accept it without padding
    assert len(check_webhook_secret(SecretStr(unpadded))) == 25


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://hooks.example.com/zoho",
        "http://localhost:8080/hooks",  # a name: whatever the resolver says
        "http://127.0.0.1.nip.io/hooks",
        "http://10.0.0.5/hooks",
        "ftp://hooks.example.com/zoho",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "hooks.example.com/zoho",
        "https:///zoho",
        "https://user:hunter2@hooks.example.com/zoho",
        "https://[::1/zoho",
    ],
)
def test_s48_a_webhook_url_not_https_stops_the_start_up(url: str) -> None:
    settings = Settings(webhook_url=url, webhook_secret=GOOD)
    with pytest.raises(ConfigurationError, match="ZOHO_WEBHOOK_URL") as info:
        settings.require_webhook()
    assert "hunter2" not in str(info.value) and GOOD not in str(info.value)
