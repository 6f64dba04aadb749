"""Unit/integration tests of connection events (the log) and queued revocations against the
real Vault (SECURITY 31, 34, 36). Webhooks: ``test_webhooks.py``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from tokens._support import Manager
from zoho_invoice._http import httpx
from zoho_invoice.tokens import ConnectionEvent, LoggingEventSink, process_revocations


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


def test_s36_disconnect_is_revoked_at_its_datacenter(make_manager: Manager) -> None:
    vault = make_manager.vault
    cid = make_manager.save(expires_in=3000)
    vault.disconnect(cid)
    revoker = Revoker(make_manager, [])
    now = datetime.fromtimestamp(make_manager.clock(), UTC)
    assert process_revocations(vault, revoker.oauth, now=now) == 1
    (request,) = revoker.requests
    assert request.url.host == "accounts.zoho.eu"
    assert parse_qs(request.read().decode()) == {"token": [make_manager.refresh_token]}
    assert make_manager.refresh_token not in str(request.url)
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
    old = parse_qs(revoker.requests[0].read().decode())["token"]
    assert old == [make_manager.refresh_token]  # the old one
    assert vault.due_revocations(now + timedelta(days=1), 10) == []
    assert vault.get_connection(cid).status == "active"
