"""The vault: connections, connect state and tokens sealed with AES-256-GCM.

>>> from zoho_invoice.vault import KeyRing, Vault
>>> vault = Vault.open("sqlite:///zoho.db", KeyRing.from_string(keys), upgrade=True)
"""

from ._db import create_engine_for, upgrade_database
from ._keyring import KeyRing
from ._leases import DatabaseRefreshLocks
from ._outbox import OutboxEntry, WebhookOutbox
from ._quota_blocks import DatabaseQuotaBlocks
from ._store import Vault
from ._types import Connection, PendingConnect, PendingRevocation, Status, StoredTokens

__all__ = [
    "Connection",
    "DatabaseQuotaBlocks",
    "DatabaseRefreshLocks",
    "KeyRing",
    "OutboxEntry",
    "PendingConnect",
    "PendingRevocation",
    "Status",
    "StoredTokens",
    "Vault",
    "WebhookOutbox",
    "create_engine_for",
    "upgrade_database",
]
