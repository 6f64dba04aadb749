"""Unit/integration tests of connection events (log, signed webhook) and queued revocations
against the real Vault (SECURITY 31, 34, 36)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zoho_invoice._http import httpx
from zoho_invoice.tokens import (
    Backoff,
    ConnectionEvent,
    LoggingEventSink,
    WebhookEventSink,
    process_revocations,
)

Manager = Any

EVENT = ConnectionEvent(
    type="connection.needs_reauth",
    connection_id="c1",
    owner="tenant-1",
    at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    reason="Zoho answered invalid_code on refresh",
)


def test_webhook_posts_signed_json_and_retries() -> None:
    received: list[httpx.Request] = []
    answers = [503, 200]

    def receiver(request: httpx.Request) -> httpx.Response:
        request.read()
        received.append(request)
        return httpx.Response(answers.pop(0))

    sleeps: list[float] = []
    sink = WebhookEventSink(
        "https://hooks.example.com/zoho",
        "whsec-123",
        http=httpx.Client(transport=httpx.MockTransport(receiver)),
        backoff=Backoff(initial=1.0, jitter=lambda: 0.0),
        sleep=sleeps.append,
    )
    sink(EVENT)
    sink.close(5)
    assert len(received) == 2 and sleeps == [0.5]
    request = received[-1]
    body = request.content
    expected = "sha256=" + hmac.new(b"whsec-123", body, hashlib.sha256).hexdigest()
    assert request.headers["X-Zoho-Invoice-Signature"] == expected
    assert json.loads(body) == {
        "type": "connection.needs_reauth",
        "connection_id": "c1",
        "owner": "tenant-1",
        "at": "2026-01-02T03:04:05+00:00",
        "reason": "Zoho answered invalid_code on refresh",
    }
    assert "whsec-123" not in repr(sink)


def test_webhook_never_blocks_the_caller() -> None:
    # The receiver hangs; a sink that posted on the caller's thread would hang with it (and
    # the test would hit its timeout). A background sender takes one request and waits.
    release = threading.Event()
    entered: list[int] = []

    def stuck(request: httpx.Request) -> httpx.Response:
        entered.append(1)
        release.wait(60)
        return httpx.Response(200)

    sink = WebhookEventSink(
        "https://hooks.example.com/zoho",
        "s",
        http=httpx.Client(transport=httpx.MockTransport(stuck)),
    )
    for _ in range(20):
        sink(EVENT)
    assert not release.is_set()
    assert len(entered) <= 1
    release.set()
    sink.close(5)
    assert len(entered) == 20


def test_webhook_gives_up_on_a_refusal(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(410)

    sink = WebhookEventSink(
        "https://hooks.example.com/zoho",
        "s",
        http=httpx.Client(transport=httpx.MockTransport(refuse)),
        sleep=lambda s: None,
    )
    with caplog.at_level(logging.WARNING, logger="zoho_invoice.events"):
        sink(EVENT)
        sink.close(5)
    assert len(calls) == 1 and "not delivered" in caplog.text


def test_logging_sink_escapes_outside_values(caplog: pytest.LogCaptureFixture) -> None:
    event = ConnectionEvent(
        type="connection.revoked",
        connection_id="c1",
        owner="evil\nFAKE admin login",
        at=datetime.now(UTC),
    )
    with caplog.at_level(logging.INFO, logger="zoho_invoice.events"):
        LoggingEventSink()(event)
    assert "connection.revoked" in caplog.text and "\nFAKE" not in caplog.text


# -- revocations against the real vault ------------------------------------------------------


class Revoker:
    def __init__(self, make_manager: Manager, answers: list[int]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []
        self.oauth = make_manager.oauth(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.answers.pop(0) if self.answers else 200
        body = {"status": "success"} if status == 200 else {"error": "invalid_token"}
        return httpx.Response(status, json=body)


def test_s36_disconnect_is_revoked_at_its_dc(make_manager: Manager) -> None:
    vault = make_manager.vault
    cid = make_manager.save(expires_in=3000)
    vault.disconnect(cid)
    revoker = Revoker(make_manager, [])
    now = datetime.fromtimestamp(make_manager.clock(), UTC)
    assert process_revocations(vault, revoker.oauth, now=now) == 1
    (request,) = revoker.requests
    assert request.url.host == "accounts.zoho.eu"
    assert request.url.params["token"] == make_manager.refresh_token
    assert vault.due_revocations(now + timedelta(days=1), 10) == []


def test_s36_failed_revoke_backs_off_and_is_retried(make_manager: Manager) -> None:
    vault = make_manager.vault
    cid = make_manager.save(expires_in=3000)
    vault.disconnect(cid)
    assert vault.load_tokens(cid).refresh_token is None  # unusable even before Zoho answers
    revoker = Revoker(make_manager, [503, 503])
    now = datetime.fromtimestamp(make_manager.clock(), UTC)
    assert process_revocations(vault, revoker.oauth, now=now) == 0
    (pending,) = vault.due_revocations(now + timedelta(seconds=31), 10)
    assert pending.attempts == 1 and pending.last_error
    assert make_manager.refresh_token not in pending.last_error
    assert vault.due_revocations(now + timedelta(seconds=29), 10) == []  # 30 s back-off
    assert process_revocations(vault, revoker.oauth, now=now + timedelta(seconds=31)) == 0
    (pending,) = vault.due_revocations(now + timedelta(seconds=31 + 61), 10)
    assert pending.attempts == 2  # then 60 s
    assert process_revocations(vault, revoker.oauth, now=now + timedelta(seconds=92)) == 1
    assert len(revoker.requests) == 3


def test_s34_reconnect_revokes_the_old_refresh_token_and_unknown_counts_as_done(
    make_manager: Manager,
) -> None:
    vault = make_manager.vault
    cid = make_manager.save(expires_in=3000)
    new_refresh = "1000.99998888777766665555444433332222.1111000011110000111100001111aaaa"
    # a reconnect of the same owner and DC stores the new tokens first
    assert make_manager.save(expires_in=3000, refresh_token=new_refresh) == cid
    assert vault.load_tokens(cid).refresh_token == new_refresh
    revoker = Revoker(make_manager, [400])  # Zoho: unknown token (already dead)
    now = datetime.fromtimestamp(make_manager.clock(), UTC)
    assert process_revocations(vault, revoker.oauth, now=now) == 1
    assert revoker.requests[0].url.params["token"] == make_manager.refresh_token  # the old one
    assert vault.due_revocations(now + timedelta(days=1), 10) == []
    assert vault.get_connection(cid).status == "active"
