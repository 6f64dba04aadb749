"""Delivering queued webhooks, signed as Standard Webhooks specifies (SECURITY 48).

Each attempt POSTs the entry's JSON body with::

    webhook-id: msg_...             the same on every attempt: receivers drop duplicates by it
    webhook-timestamp: 1767323045   this attempt's time (epoch seconds)
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

under the key ``ZOHO_WEBHOOK_SECRET`` (``whsec_`` + base64) stands for. The signature covers the
id and the time, so a receiver that checks the timestamp (the reference libraries allow five
minutes) and remembers the ids it saw refuses a replayed delivery. The signing is done by the
``standardwebhooks`` package, the same code receivers verify with.

A 2xx answer is success; anything else (redirects are not followed) and network errors are
retried: the next attempt waits ``Backoff(initial=10, maximum=3600)`` (5-10 s, then doubling,
up to between half an hour and an hour, with jitter so retries of many entries spread out).
After ``max_attempts`` attempts, or once the event is ``max_age`` old, the entry is marked
``dead`` and logged at ERROR.

Each attempt has one overall deadline (``deadline``, 15 s by default, a quarter of the claim's
60 s lease), not only httpx's per-operation ``timeout``: a receiver that dribbles its answer's
head one byte at a time restarts a read timeout with every byte, and would keep one attempt
(and the dispatcher thread) going past the lease, so that another sender sent the entry again.
A watchdog timer shuts the attempt's socket down when the deadline passes; the blocked read
then ends at once and the attempt is recorded as failed (and retried later).

``zoho-invoice worker`` calls ``WebhookDeliverer.deliver_due`` every round; the service runs a
``WebhookDispatcher``, a thread that delivers as soon as an event is queued and retries due
entries every ``poll_interval``. Both claim entries in the outbox first, so however many run,
an entry is sent by one of them at a time.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr
from standardwebhooks import Webhook

from .._exceptions import ZohoError
from .._http import httpx
from .._tls import require_verified_tls
from ..settings import check_webhook_secret, check_webhook_url
from ._backoff import Backoff
from ._events import EventSink, LoggingEventSink, OutboxEventSink

if TYPE_CHECKING:
    from ..settings import Settings
    from ..vault import OutboxEntry, Vault, WebhookOutbox

__all__ = [
    "DeliveryRound",
    "WebhookDeliverer",
    "WebhookDispatcher",
    "webhook_deliverer_from_settings",
    "webhooks_from_settings",
]

logger = logging.getLogger("zoho_invoice.webhooks")

USER_AGENT = "zoho-invoice-connect"
#: Attempts before an entry is given up on (about a day with the default back-off).
MAX_ATTEMPTS = 30
#: An event older than this is given up on after its next failed attempt.
MAX_AGE = timedelta(days=3)
#: The longest one attempt may take, all of it (connect, send, the answer's head), in seconds.
DEADLINE = 15.0

Outcome = Literal["delivered", "retrying", "dead", "lost"]


@dataclass(frozen=True)
class DeliveryRound:
    """What one ``deliver_due`` call did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"webhooks delivered {self.delivered}, retrying {self.retrying}, dead {self.dead}"


class WebhookDeliverer:
    """Sends due outbox entries to ``url``, one claimed entry at a time.

    ``clock`` (epoch seconds) stamps each attempt and schedules the next; ``http`` replaces the
    HTTP client (it must verify TLS for an https URL, and should not follow redirects).
    ``timeout`` bounds each network operation (connect, one read, one write); ``deadline``
    bounds a whole attempt, however the receiver paces its bytes (SECURITY 48). ``lease`` is
    how long a claimed entry is hidden from other senders: at least four deadlines, so an
    attempt always ends well before another sender may take the entry over.
    """

    def __init__(
        self,
        outbox: WebhookOutbox,
        url: str,
        secret: SecretStr | str,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        deadline: float = DEADLINE,
        lease: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        max_age: timedelta = MAX_AGE,
    ) -> None:
        self.url = check_webhook_url(url)
        # Checked like the setting (whsec_ + base64 of 24-64 bytes); the Webhook object keeps
        # the key, and nothing of it shows in a repr, a log or an error.
        self._webhook = Webhook(check_webhook_secret(secret))
        if http is not None and self.url.startswith("https://"):
            require_verified_tls(http, user="the webhook deliverer", where="the webhook URL")
        if not (math.isfinite(deadline) and deadline > 0):
            raise ValueError("deadline must be a positive, finite number of seconds")
        self._owns_http = http is None
        # No idle connections are kept: every attempt opens its own, so the watchdog knows
        # the socket to shut (a pooled one would not be announced by the trace).
        self._http = (
            http
            if http is not None
            else httpx.Client(
                follow_redirects=False,
                timeout=timeout,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        )
        self._outbox = outbox
        self._clock = clock
        self._backoff = backoff or self.default_backoff()
        self._deadline = deadline
        # No single operation may outlast the whole attempt (a connect would otherwise run on
        # past the deadline before there is a socket to shut).
        self._timeout = min(timeout, deadline)
        self._lease = max(lease, deadline * 4)
        self._max_attempts = max_attempts
        self._max_age = max_age

    def __repr__(self) -> str:
        return "WebhookDeliverer(url=...)"

    @staticmethod
    def default_backoff(jitter: Callable[[], float] = random.random) -> Backoff:
        """Waits of 5-10 s after the first failure, doubling, up to 30-60 minutes."""
        return Backoff(initial=10.0, maximum=3600.0, jitter=jitter)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def deliver_due(self, *, limit: int = 100) -> DeliveryRound:
        """Attempt every due entry once (at most ``limit``), oldest first."""
        counts = {"delivered": 0, "retrying": 0, "dead": 0, "lost": 0}
        for _ in range(limit):
            claimed = self._outbox.claim_due(self._clock(), lease=self._lease, limit=1)
            if not claimed:
                break
            counts[self._attempt(claimed[0])] += 1
        return DeliveryRound(counts["delivered"], counts["retrying"], counts["dead"])

    def headers(self, entry: OutboxEntry, timestamp: int) -> dict[str, str]:
        """The headers of one attempt at ``timestamp`` (epoch seconds)."""
        signature = self._webhook.sign(
            entry.id, datetime.fromtimestamp(timestamp, UTC), entry.payload
        )
        return {
            "webhook-id": entry.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    def _attempt(self, entry: OutboxEntry) -> Outcome:
        started = self._clock()
        headers = self.headers(entry, math.floor(started))
        problem = self._post(entry.payload.encode("utf-8"), headers)
        if problem is None:
            if self._outbox.delivered(entry):
                return "delivered"
            return "lost"  # our lease ran out meanwhile; the new holder sends it again
        now = self._clock()
        too_old = now - entry.created_at.timestamp() >= self._max_age.total_seconds()
        if entry.attempts >= self._max_attempts or too_old:
            if not self._outbox.dead(entry, problem):
                return "lost"
            logger.error(
                "webhook %s (%s) given up after %d attempts: %s",
                entry.id,
                entry.event_type,
                entry.attempts,
                problem,
            )
            return "dead"
        delay = self._backoff.delay(entry.attempts)
        if not self._outbox.failed(entry, problem, now + delay):
            return "lost"
        logger.warning(
            "webhook %s (%s) attempt %d failed, retrying in %.0f s: %s",
            entry.id,
            entry.event_type,
            entry.attempts,
            delay,
            problem,
        )
        return "retrying"

    def _post(self, body: bytes, headers: dict[str, str]) -> str | None:
        """``None`` when the receiver answered 2xx, else what went wrong (no secret in it)."""
        watchdog = _Watchdog(self._deadline)
        try:
            # Streamed and never read: only the status matters, whatever the receiver sends.
            with self._http.stream(
                "POST",
                self.url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                extensions={"trace": watchdog.trace},
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            if watchdog.expired:
                return f"no answer within the {self._deadline:g} s deadline"
            return type(exc).__name__
        finally:
            watchdog.finish()
        if watchdog.expired:
            # The head arrived just as the watchdog fired: the attempt still overran.
            return f"no answer within the {self._deadline:g} s deadline"
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed)"
        return f"HTTP {status}"


class _Watchdog:
    """Ends one attempt at its deadline by shutting its socket down.

    httpx's timeouts apply to each operation, so a receiver sending one byte per second keeps
    a read going for as long as it likes. httpcore announces every connection it opens (its
    ``trace`` extension: ``connection.connect_tcp.complete`` and ``start_tls.complete`` carry
    the network stream); a timer shuts that stream's socket down when the deadline passes,
    which wakes the read blocked on it (a bare ``close`` from another thread would not), and
    the attempt fails with a network error. The attempt's own thread still closes the stream.
    A stream announced after the deadline is shut at once. ``finish`` disarms the timer under
    the lock, so a socket is never shut once its attempt is over (a caller's pooled connection).
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self.expired = False
        self._timer = threading.Timer(deadline, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: note the socket of each connection the attempt opens."""
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Shut both directions: a thread blocked reading this socket wakes up to end-of-file.

    ``socket.socket.shutdown`` itself, also for a TLS socket, whose own ``shutdown`` would
    drop its TLS state under the reading thread.
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected: nothing to wake


class WebhookDispatcher:
    """Runs a deliverer in a daemon thread: soon after ``kick()``, and every ``poll_interval``
    seconds for retries. ``start`` is idempotent; ``kick`` starts the thread if needed."""

    def __init__(self, deliverer: WebhookDeliverer, *, poll_interval: float = 30.0) -> None:
        self.deliverer = deliverer
        self._poll_interval = poll_interval
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        #: Rounds run so far (``wait_rounds`` lets a test wait for one instead of sleeping).
        self.rounds = 0
        self._round_done = threading.Condition()

    def start(self) -> None:
        with self._guard:
            if self._thread is not None or self._stopped.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="zoho-webhooks", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """Deliver what is due now (returns at once)."""
        self.start()
        self._wake.set()

    def wait_rounds(self, count: int, timeout: float) -> bool:
        """Block until ``count`` rounds have run in total (or ``timeout`` passes)."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= count, timeout)

    def close(self, timeout: float = 15.0) -> None:
        """Stop after the delivery in progress (queued entries stay in the outbox)."""
        self._stopped.set()
        self._wake.set()
        with self._guard:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self.deliverer.close()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                self.deliverer.deliver_due()
            except ZohoError as exc:  # the database is down: the entries wait
                logger.warning("webhook round failed (%s); retried later", type(exc).__name__)
            except Exception:  # the thread must survive anything
                logger.exception("webhook round crashed; retried later")
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()
            self._wake.wait(self._poll_interval)


def webhook_deliverer_from_settings(
    settings: Settings, vault: Vault, **options: Any
) -> WebhookDeliverer | None:
    """A deliverer for ``ZOHO_WEBHOOK_URL`` (checked with its secret: ``ConfigurationError``),
    or ``None`` when no webhook URL is set."""
    target = settings.require_webhook()
    if target is None:
        return None
    url, secret = target
    return WebhookDeliverer(vault.webhook_outbox, url, secret, **options)


def webhooks_from_settings(
    settings: Settings, vault: Vault, **options: Any
) -> tuple[EventSink, WebhookDispatcher | None]:
    """The event sink and, with webhooks configured, the dispatcher that sends what it queues
    (not started: ``kick`` or ``start`` it, ``close`` it at shutdown)."""
    deliverer = webhook_deliverer_from_settings(settings, vault, **options)
    if deliverer is None:
        return LoggingEventSink(), None
    dispatcher = WebhookDispatcher(deliverer)
    return OutboxEventSink(vault.webhook_outbox, wake=dispatcher.kick), dispatcher
