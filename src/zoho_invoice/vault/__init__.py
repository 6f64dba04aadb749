"""The vault: connections, connect state and tokens sealed with AES-256-GCM.

>>> from zoho_invoice.vault import KeyRing, Vault
>>> vault = Vault.open("sqlite:///zoho.db", KeyRing.from_string(keys), upgrade=True)
"""

from ._db import upgrade_database
from ._keyring import KeyRing
from ._outbox import OutboxEntry, WebhookOutbox
from ._store import Vault
from ._types import Connection, PendingConnect, PendingRevocation, Status, StoredTokens

__all__ = [
    "Connection",
    "KeyRing",
    "OutboxEntry",
    "PendingConnect",
    "PendingRevocation",
    "Status",
    "StoredTokens",
    "Vault",
    "WebhookOutbox",
    "upgrade_database",
]
