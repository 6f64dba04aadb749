"""Connection events and where they go.

An ``EventSink`` is any callable taking a ``ConnectionEvent``. It must be quick and must not
raise into the refresh path; the manager guards it anyway.

A sink is called inside the vault's unit of work of the state change the event reports
(``vault.unit_of_work()``: the change is written, not yet committed). Its writes to the vault
join that transaction, so the outbox holds the event exactly when the change is committed;
anything else it does (a log line, waking the sender, a call out) it defers with
``zoho_invoice.vault.after_commit``, so it happens only once the change
is committed and never holds the transaction open. The sinks here do both.

- No ``ZOHO_WEBHOOK_URL``: ``LoggingEventSink`` logs each event, and that is all.
- With a webhook URL: ``OutboxEventSink`` logs the event and writes it to the vault's webhook
  outbox, a table, so it survives a crash or a restart; a ``WebhookDeliverer``
  (``tokens/_webhooks.py``) sends it, signed as Standard Webhooks specifies, and retries with
  back-off until the receiver answers 2xx (SECURITY 48).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .._redact import redact
from ..vault import after_commit
from ._types import ConnectionEvent

if TYPE_CHECKING:
    from ..settings import Settings
    from ..vault import Vault, WebhookOutbox

__all__ = [
    "EventSink",
    "LoggingEventSink",
    "OutboxEventSink",
    "event_sink_from_settings",
    "webhook_payload",
]

logger = logging.getLogger("zoho_invoice.events")


class EventSink(Protocol):
    """Where connection events go; called in the state change's unit of work (see above)."""

    def __call__(self, event: ConnectionEvent, /) -> None: ...


def webhook_payload(event: ConnectionEvent) -> str:
    """The JSON body of an event's webhook, in the envelope Standard Webhooks recommends.

    ``{"type": ..., "timestamp": <the event's time, ISO 8601>, "data": {"connection_id",
    "owner", "reason"}}``, and for ``sync.completed`` ``data.counts`` (``added``, ``updated``,
    ``deleted``) and, when a resource could not be read, ``data.errors`` (resource: why). It
    names the connection, never a token nor a record's data.
    """
    data: dict[str, object] = {
        "connection_id": event.connection_id,
        "owner": event.owner,
        "reason": event.reason,
    }
    if event.counts is not None:
        data["counts"] = dict(event.counts)
    if event.errors:
        data["errors"] = dict(event.errors)
    body = {"type": event.type, "timestamp": event.at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


class LoggingEventSink:
    """Logs each event (``needs_reauth`` and ``revoked`` at WARNING, others at INFO)."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logger

    def __call__(self, event: ConnectionEvent) -> None:
        """Log ``event`` once the change it reports is committed (at once outside a unit of
        work): a change that rolls back leaves no line claiming it happened."""
        after_commit(lambda: self.write(event))

    def write(self, event: ConnectionEvent) -> None:
        """The log line itself, now."""
        level = (
            logging.INFO
            if event.type in ("connection.created", "connection.reconnected", "sync.completed")
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


class OutboxEventSink:
    """Queues each event's webhook in the outbox and logs it.

    The enqueue joins the unit of work of the change the event reports, so the event is
    durable exactly when the change is: if the write fails, the unit rolls back (and the error
    reaches the caller) even though the connect flow and the manager never let a sink break
    them. Once committed, the event is logged and ``wake`` is called (the service passes its
    dispatcher's ``kick``, so the delivery starts at once instead of at the next round; before
    the commit the sender would find nothing).
    """

    def __init__(
        self,
        outbox: WebhookOutbox,
        *,
        wake: Callable[[], None] | None = None,
        log: LoggingEventSink | None = None,
    ) -> None:
        self._outbox = outbox
        self._wake = wake
        self._log = log or LoggingEventSink()

    def __call__(self, event: ConnectionEvent) -> None:
        self._outbox.enqueue(event.type, webhook_payload(event))
        after_commit(lambda: self._announce(event))

    def _announce(self, event: ConnectionEvent) -> None:
        self._log.write(event)
        if self._wake is not None:
            self._wake()


def event_sink_from_settings(
    settings: Settings, vault: Vault | None = None, *, wake: Callable[[], None] | None = None
) -> EventSink:
    """The outbox of ``vault`` when ``ZOHO_WEBHOOK_URL`` is set (after checking it and
    ``ZOHO_WEBHOOK_SECRET``: ``ConfigurationError`` otherwise), else the log.

    The sink only queues; a ``WebhookDeliverer`` sends (``zoho-invoice worker``, or the
    service's dispatcher: see ``webhooks_from_settings``).
    """
    if settings.require_webhook() is None:
        return LoggingEventSink()
    if vault is None:
        raise TypeError("webhooks are queued in the vault's database: pass vault=")
    return OutboxEventSink(vault.webhook_outbox, wake=wake)
