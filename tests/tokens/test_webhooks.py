"""Integration tests of webhook delivery (SECURITY 48): the real Vault's outbox on SQLite, the
real deliverer, and a real receiver on a loopback port that verifies every delivery with the
``standardwebhooks`` package as it arrives (``tests/webhook_receiver.py``). MockTransport
stands in for the receiver only where a test needs to hold a request back.

The clock is injected (it starts at the real time, so the receiver's five-minute check of
``webhook-timestamp`` applies, and moves only when a test says so): no test sleeps.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from support import Clock
from webhook_receiver import Receiver, new_secret, receiving
from zoho_invoice._exceptions import ConfigurationError
from zoho_invoice._http import httpx
from zoho_invoice.tokens import (
    Backoff,
    ConnectionEvent,
    DeliveryRound,
    OutboxEventSink,
    WebhookDeliverer,
    WebhookDispatcher,
)
from zoho_invoice.vault import KeyRing, Vault

SECRET = new_secret()
EVENT = ConnectionEvent(
    type="connection.revoked",
    connection_id="c" * 32,
    owner="tenant-1",
    at=datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC),
    reason="disconnected",
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault(tmp_path: Path, clock: Clock) -> Iterator[Vault]:
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    opened = Vault.open(f"sqlite:///{tmp_path / 'zoho.db'}", keyring, upgrade=True, clock=clock)
    yield opened
    opened.close()


def deliverer(vault: Vault, url: str, clock: Clock, **options: object) -> WebhookDeliverer:
    """The deliverer with its back-off pinned (no jitter): waits of 5 s, 10 s, 20 s ..."""
    options.setdefault("backoff", Backoff(initial=10.0, maximum=3600.0, jitter=lambda: 0.0))
    return WebhookDeliverer(vault.webhook_outbox, url, SECRET, clock=clock, **options)  # type: ignore[arg-type]


def test_s48_delivery_verifies_with_standardwebhooks_at_a_real_receiver(
    vault: Vault, clock: Clock
) -> None:
    with receiving(SECRET) as receiver:
        OutboxEventSink(vault.webhook_outbox)(EVENT)
        sender = deliverer(vault, receiver.url, clock)
        assert sender.deliver_due() == DeliveryRound(delivered=1)
        sender.close()
        [delivery] = receiver.received
    assert delivery.verified, delivery.error
    assert delivery.status == 204 and delivery.path == "/hooks/zoho"
    assert delivery.payload == {
        "type": "connection.revoked",
        "timestamp": "2026-11-30T12:00:05+00:00",
        "data": {"connection_id": "c" * 32, "owner": "tenant-1", "reason": "disconnected"},
    }
    headers = delivery.headers
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-timestamp"] == str(math.floor(clock.now))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert vault.webhook_outbox.entries() == []  # delivered: forgotten
    key = SECRET.removeprefix("whsec_")
    assert key not in repr(sender) and key not in str(headers) and key not in str(delivery.body)


def _post_as_attacker(url: str, body: bytes, headers: dict[str, str]) -> int:
    sent = {k: v for k, v in headers.items() if k not in ("content-length", "host")}
    with httpx.Client() as attacker:
        return attacker.post(url, content=body, headers=sent).status_code


def test_s48_replayed_or_tampered_deliveries_are_refused(vault: Vault, clock: Clock) -> None:
    with receiving(SECRET) as receiver:
        # A delivery made six minutes ago, that arrives (is replayed) now: the timestamp it
        # carries is the one signed, and the library refuses it as too old ...
        clock.advance(-360)
        OutboxEventSink(vault.webhook_outbox)(EVENT)
        deliverer(vault, receiver.url, clock).deliver_due()
        [replayed] = receiver.received
        assert replayed.status == 400 and replayed.error == "Message timestamp too old"
        # ... and freshening the timestamp breaks the signature.
        fresh = {**replayed.headers, "webhook-timestamp": str(math.floor(time.time()))}
        assert _post_as_attacker(receiver.url, replayed.body, fresh) == 400
        assert receiver.received[-1].error == "No matching signature found"

        # The genuine retry, stamped with its own time, gets through, with the same id.
        clock.advance(360 + 5)
        assert deliverer(vault, receiver.url, clock).deliver_due() == DeliveryRound(delivered=1)
        genuine = receiver.received[-1]
        assert genuine.verified and genuine.headers["webhook-id"] == replayed.headers["webhook-id"]
        # Changing its body, or its id (to get past the receiver's de-duplication), breaks it.
        tampered = genuine.body.replace(b"tenant-1", b"tenant-2")
        assert _post_as_attacker(receiver.url, tampered, genuine.headers) == 400
        other_id = {**genuine.headers, "webhook-id": "msg_" + "0" * 32}
        assert _post_as_attacker(receiver.url, genuine.body, other_id) == 400
        assert [d.error for d in receiver.received[-2:]] == ["No matching signature found"] * 2
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(genuine.body, genuine.headers)  # another secret


def test_s48_a_failing_receiver_gets_it_on_the_third_attempt_after_back_off(
    vault: Vault, clock: Clock
) -> None:
    outbox = vault.webhook_outbox
    with receiving(SECRET, answers=[503, 500]) as receiver:
        OutboxEventSink(outbox)(EVENT)
        sender = deliverer(vault, receiver.url, clock)
        start = clock.now
        assert sender.deliver_due() == DeliveryRound(retrying=1)
        [entry] = outbox.entries()
        assert entry.attempts == 1 and entry.last_error == "HTTP 503"
        assert entry.next_attempt_at.timestamp() == pytest.approx(start + 5, abs=1e-3)
        clock.advance(4.9)
        assert sender.deliver_due() == DeliveryRound()  # not due yet: nothing is sent
        clock.advance(0.1)
        assert sender.deliver_due() == DeliveryRound(retrying=1)
        [entry] = outbox.entries()
        assert entry.attempts == 2 and entry.last_error == "HTTP 500"
        assert entry.next_attempt_at.timestamp() == pytest.approx(start + 15, abs=1e-3)
        clock.advance(9.9)
        assert sender.deliver_due() == DeliveryRound()
        clock.advance(0.1)
        assert sender.deliver_due() == DeliveryRound(delivered=1)
        deliveries = receiver.received
    assert [d.status for d in deliveries] == [503, 500, 204]
    assert all(d.verified for d in deliveries)
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1  # the receiver can dedupe
    stamps = [int(d.headers["webhook-timestamp"]) for d in deliveries]
    assert stamps == [math.floor(start), math.floor(start + 5), math.floor(start + 15)]
    assert outbox.entries() == []


def test_s48_default_back_off_doubles_with_jitter_up_to_an_hour() -> None:
    low = WebhookDeliverer.default_backoff(jitter=lambda: 0.0)
    high = WebhookDeliverer.default_backoff(jitter=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert [high.delay(n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert low.delay(30) == 1800.0 and high.delay(30) == 3600.0


def test_s48_gives_up_after_max_attempts_and_keeps_the_entry_dead(
    vault: Vault, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = vault.webhook_outbox
    with receiving(SECRET, answers=[500, 502, 503, 504]) as receiver:
        OutboxEventSink(outbox)(EVENT)
        quick = Backoff(initial=2.0, maximum=2.0, jitter=lambda: 0.0)  # 1 s between attempts
        sender = deliverer(vault, receiver.url, clock, max_attempts=3, backoff=quick)
        with caplog.at_level(logging.WARNING, logger="zoho_invoice.webhooks"):
            for _ in range(3):
                sender.deliver_due()
                clock.advance(1)
        assert len(receiver.received) == 3
        [dead] = outbox.entries()
        assert dead.status == "dead" and dead.attempts == 3 and dead.last_error == "HTTP 503"
        assert "given up after 3 attempts" in caplog.text
        clock.advance(60)
        assert sender.deliver_due() == DeliveryRound()  # never sent again
        assert len(receiver.received) == 3


def test_s48_an_event_too_old_is_given_up_after_its_next_failure(
    vault: Vault, clock: Clock
) -> None:
    outbox = vault.webhook_outbox
    with receiving(SECRET, answers=[500]) as receiver:
        OutboxEventSink(outbox)(EVENT)
        clock.advance(3 * 86400 + 1)  # nobody delivered for three days (no worker ran)
        sender = deliverer(vault, receiver.url, clock)
        assert sender.deliver_due() == DeliveryRound(dead=1)
        assert len(receiver.received) == 1
    assert [e.status for e in outbox.entries()] == ["dead"]


def test_s48_redirects_are_not_followed(vault: Vault, clock: Clock) -> None:
    with receiving(SECRET, answers=[308]) as receiver:
        OutboxEventSink(vault.webhook_outbox)(EVENT)
        sender = deliverer(vault, receiver.url, clock)  # its own HTTP client
        assert sender.deliver_due() == DeliveryRound(retrying=1)
        sender.close()
        assert [d.path for d in receiver.received] == ["/hooks/zoho"]  # not /hooks/zoho/moved
    [entry] = vault.webhook_outbox.entries()
    assert entry.last_error == "HTTP 308 (redirects are not followed)"


def test_s48_network_errors_are_retried(vault: Vault, clock: Clock) -> None:
    receiver = Receiver(SECRET)  # bound, never started: the port refuses connections
    receiver.stop()
    OutboxEventSink(vault.webhook_outbox)(EVENT)
    sender = deliverer(vault, receiver.url, clock)
    assert sender.deliver_due() == DeliveryRound(retrying=1)
    sender.close()
    [entry] = vault.webhook_outbox.entries()
    assert entry.status == "pending" and entry.last_error == "ConnectError"


def test_s48_the_sink_never_waits_for_the_receiver(vault: Vault, clock: Clock) -> None:
    # The receiver hangs on the first delivery; the events keep being queued at once (a sink
    # that posted on the caller's thread would hang with it, and the test hit its timeout).
    release = threading.Event()
    seen: list[str] = []

    def stuck(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request.headers["webhook-id"])
        release.wait(30)
        return httpx.Response(200)

    http = httpx.Client(transport=httpx.MockTransport(stuck))
    sender = deliverer(vault, "https://hooks.example.com/zoho", clock, http=http)
    dispatcher = WebhookDispatcher(sender)
    sink = OutboxEventSink(vault.webhook_outbox, wake=dispatcher.kick)
    try:
        for owner in ("a", "b", "c"):
            sink(ConnectionEvent("connection.created", "c" * 32, owner, EVENT.at))
        assert not release.is_set() and len(seen) <= 1
        assert vault.webhook_outbox.count() == 3  # durable before anything was sent
        release.set()
        assert dispatcher.wait_rounds(1, timeout=10)
        assert len(seen) == 3 and len(set(seen)) == 3
        assert vault.webhook_outbox.count() == 0
    finally:
        release.set()
        dispatcher.close()
        http.close()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://hooks.example.com/zoho", "whsec_" + "c2hvcnQ="),  # 5 bytes
        ("https://hooks.example.com/zoho", "a-raw-secret-of-plenty-of-characters"),
        ("http://hooks.example.com/zoho", SECRET),
        ("file:///tmp/hooks", SECRET),
    ],
)
def test_s48_a_deliverer_refuses_what_the_settings_refuse(
    vault: Vault, url: str, secret: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        WebhookDeliverer(vault.webhook_outbox, url, secret)
    assert secret.removeprefix("whsec_") not in str(info.value)


def test_s48_a_deliverer_refuses_an_http_client_that_does_not_verify_tls(vault: Vault) -> None:
    with httpx.Client(verify=False) as careless, pytest.raises(ConfigurationError):
        WebhookDeliverer(
            vault.webhook_outbox, "https://hooks.example.com/zoho", SECRET, http=careless
        )


def test_logging_sink_only_logs_when_no_webhook_is_configured(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    from zoho_invoice.settings import Settings
    from zoho_invoice.tokens import LoggingEventSink, event_sink_from_settings

    sink = event_sink_from_settings(Settings(), vault)
    assert isinstance(sink, LoggingEventSink)
    with caplog.at_level(logging.INFO, logger="zoho_invoice.events"):
        sink(EVENT)
    assert "connection.revoked" in caplog.text
    assert vault.webhook_outbox.entries() == []


def test_s48_a_manager_from_settings_queues_needs_reauth_for_the_webhook(
    vault: Vault, clock: Clock
) -> None:
    from pydantic import SecretStr

    from zoho_invoice._exceptions import ReauthorizationRequired
    from zoho_invoice.datacenters import DataCenterTable
    from zoho_invoice.oauth import OAuthClient, TokenSet
    from zoho_invoice.settings import Settings
    from zoho_invoice.tokens import TokenManager

    def zoho(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "invalid_code"})  # the refresh token is dead

    connection, _ = vault.save_connection(
        owner="tenant-7",
        location="eu",
        api_domain="https://www.zohoapis.eu",
        scopes=["ZohoInvoice.invoices.READ"],
        tokens=TokenSet(
            access_token="1000." + "a" * 32 + "." + "b" * 32,
            refresh_token="1000." + "c" * 32 + "." + "d" * 32,
            expires_at=datetime.fromtimestamp(clock.now - 1, UTC),
            api_domain="https://www.zohoapis.eu",
            token_type="Bearer",
            scope=None,
        ),
    )
    oauth = OAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr("secret"),
        redirect_uri="https://app.example.com/zoho/callback",
        scopes=["ZohoInvoice.invoices.READ"],
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(zoho)),
        clock=clock,
    )
    settings = Settings(webhook_url="https://hooks.example.com/zoho", webhook_secret=SECRET)
    manager = TokenManager.from_settings(settings, vault=vault, oauth=oauth, clock=clock)
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(connection.id)
    [queued] = vault.webhook_outbox.entries()
    assert queued.event_type == "connection.needs_reauth" and queued.status == "pending"
    assert '"owner":"tenant-7"' in queued.payload and "1000." not in queued.payload
