"""The mirror: a connection's Zoho data in the app's own database, current, within Zoho's limits.

>>> from zoho_invoice.mirror import Mirror
>>> mirror = Mirror(vault, manager)
>>> report = mirror.sync(connection_id, resources=["invoices"])   # incremental
>>> mirror.sync(connection_id, reconcile=True)                    # and find deletes
>>> for change in mirror.changes(connection_id, since=0):
...     print(change.seq, change.resource, change.id, change.kind)

Tables ``zoho_invoices``, ``zoho_contacts``, ``zoho_items``, ``zoho_estimates``,
``zoho_customer_payments``, ``zoho_credit_notes``, ``zoho_recurring_invoices`` (vault migration
0006); the rules and why they hold are in ``mirror/_engine.py``'s docstring.
"""

from ._async import AsyncMirror
from ._budget import SyncShareBudget
from ._engine import ClientFactory, Mirror
from ._errors import MirrorError
from ._types import (
    RESOURCES,
    Change,
    ChangeKind,
    MirroredRecord,
    MirrorSettings,
    ProgressCallback,
    ResourceName,
    ResourceReport,
    ResourceStatus,
    SyncOutcome,
    SyncPhase,
    SyncProgress,
    SyncReport,
    SyncStatus,
)

__all__ = [
    "RESOURCES",
    "AsyncMirror",
    "Change",
    "ChangeKind",
    "ClientFactory",
    "Mirror",
    "MirrorError",
    "MirrorSettings",
    "MirroredRecord",
    "ProgressCallback",
    "ResourceName",
    "ResourceReport",
    "ResourceStatus",
    "SyncOutcome",
    "SyncPhase",
    "SyncProgress",
    "SyncReport",
    "SyncShareBudget",
    "SyncStatus",
]
