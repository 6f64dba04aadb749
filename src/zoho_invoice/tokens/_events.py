"""Connection events and where they go.

An ``EventSink`` is any callable taking a ``ConnectionEvent``. It must not block and must not
raise into the refresh path; the manager guards it anyway.

``WebhookEventSink`` POSTs each event as JSON, signed with HMAC-SHA256 of the body in
``X-Zoho-Invoice-Signature: sha256=<hex>``, from a background thread, retrying a few times.
A receiver checks it with::

    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Zoho-Invoice-Signature"])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from .._http import httpx
from .._redact import redact
from ._backoff import Backoff
from ._types import ConnectionEvent

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "EventSink",
    "LoggingEventSink",
    "WebhookEventSink",
    "event_sink_from_settings",
    "sign_body",
]

logger = logging.getLogger("zoho_invoice.events")

SIGNATURE_HEADER = "X-Zoho-Invoice-Signature"


class EventSink(Protocol):
    def __call__(self, event: ConnectionEvent) -> None: ...


def sign_body(secret: str | bytes, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class LoggingEventSink:
    """Logs each event (``needs_reauth`` and ``revoked`` at WARNING, others at INFO)."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logger

    def __call__(self, event: ConnectionEvent) -> None:
        level = (
            logging.INFO
            if event.type in ("connection.created", "connection.reconnected")
            else logging.WARNING
        )
        self._log.log(
            level,
            "%s connection=%s owner=%s reason=%s",
            event.type,
            redact(event.connection_id),
            redact(event.owner),
            redact(event.reason or "-"),
        )


_STOP = object()


class WebhookEventSink:
    """Sends events to ``url`` from a daemon thread; calling it only enqueues.

    ``close(timeout)`` delivers what is queued, then stops the thread.
    """

    def __init__(
        self,
        url: str,
        secret: SecretStr | str,
        *,
        http: httpx.Client | None = None,
        attempts: int = 4,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 10.0,
        max_queue: int = 10_000,
    ) -> None:
        self.url = url
        self._secret = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not self._secret:
            raise ValueError("a webhook secret is required to sign events")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(follow_redirects=False)
        self._attempts = attempts
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self._sleep = sleep
        self._timeout = timeout
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="zoho-webhooks", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"WebhookEventSink({redact(self.url)!r})"

    def __call__(self, event: ConnectionEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            logger.error("webhook queue full; dropped %s for %s", event.type, event.connection_id)

    def close(self, timeout: float | None = 10.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._owns_http:
            self._http.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, ConnectionEvent)
            try:
                self._deliver(item)
            except Exception:  # the thread must survive anything
                logger.exception("webhook delivery crashed for %s", item.type)

    def _deliver(self, event: ConnectionEvent) -> bool:
        body = json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(self._secret, body),
            "User-Agent": "zoho-invoice-connect",
        }
        for attempt in range(1, self._attempts + 1):
            problem: str
            try:
                response = self._http.post(
                    self.url, content=body, headers=headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses it; sending it again will not help
            if attempt < self._attempts:
                self._sleep(self._backoff.delay(attempt))
        logger.warning(
            "webhook %s for connection %s not delivered: %s",
            event.type,
            event.connection_id,
            problem,
        )
        return False


def event_sink_from_settings(settings: Settings) -> EventSink:
    """Signed webhooks when ``ZOHO_WEBHOOK_URL`` and ``ZOHO_WEBHOOK_SECRET`` are set; else logs."""
    if settings.webhook_url and settings.webhook_secret is not None:
        return WebhookEventSink(settings.webhook_url, settings.webhook_secret)
    return LoggingEventSink()
