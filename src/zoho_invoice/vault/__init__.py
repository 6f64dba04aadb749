"""The vault: connections, connect state and tokens sealed with AES-256-GCM.

>>> from zoho_invoice.vault import KeyRing, Vault
>>> vault = Vault.open("sqlite:///zoho.db", KeyRing.from_string(keys), upgrade=True)
"""

from ._db import upgrade_database
from ._keyring import KeyRing
from ._outbox import OutboxEntry, WebhookOutbox
from ._store import Vault
from ._types import Connection, ConnectSession, PendingRevocation, Status, StoredTokens
from ._unit_of_work import UnitOfWork, after_commit

__all__ = [
    "ConnectSession",
    "Connection",
    "KeyRing",
    "OutboxEntry",
    "PendingRevocation",
    "Status",
    "StoredTokens",
    "UnitOfWork",
    "Vault",
    "WebhookOutbox",
    "after_commit",
    "upgrade_database",
]
