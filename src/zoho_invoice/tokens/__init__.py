"""The token manager: a fresh access token per connection, refreshed once, within Zoho's limits.

>>> manager = TokenManager(vault, oauth_client, events=LoggingEventSink())  # doctest: +SKIP
>>> token = manager.get_access_token(connection_id)  # doctest: +SKIP
"""

from ._background import (
    RefreshCycle,
    RefreshRound,
    WorkerPolicy,
    WorkerVault,
    refresh_due,
    refresh_expiring,
)
from ._backoff import Backoff
from ._events import (
    EventSink,
    LoggingEventSink,
    OutboxEventSink,
    event_sink_from_settings,
)
from ._locks import (
    InProcessRefreshLocks,
    RedisRefreshLocks,
    RefreshLocks,
)
from ._manager import AsyncTokenManager, TokenManager, TokenVault
from ._revocations import process_revocations
from ._types import AccessToken, ConnectionEvent, EventType
from ._webhooks import (
    DeliveryRound,
    WebhookDeliverer,
    WebhookDispatcher,
    webhook_deliverer_from_settings,
    webhooks_from_settings,
)

__all__ = [
    "AccessToken",
    "AsyncTokenManager",
    "Backoff",
    "ConnectionEvent",
    "DeliveryRound",
    "EventSink",
    "EventType",
    "InProcessRefreshLocks",
    "LoggingEventSink",
    "OutboxEventSink",
    "RedisRefreshLocks",
    "RefreshCycle",
    "RefreshLocks",
    "RefreshRound",
    "TokenManager",
    "TokenVault",
    "WebhookDeliverer",
    "WebhookDispatcher",
    "WorkerPolicy",
    "WorkerVault",
    "event_sink_from_settings",
    "process_revocations",
    "refresh_due",
    "refresh_expiring",
    "webhook_deliverer_from_settings",
    "webhooks_from_settings",
]
