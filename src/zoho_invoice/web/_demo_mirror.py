"""The demo dashboard's invoice panel read from the mirror (issue 10): the invoices, and the
contacts and items the create form offers, come from the app's own tables, not from Zoho; a
page view costs no Zoho call but the organization's taxes, kept here ten minutes.

The panel says when the mirror was last synced ("synced 3 minutes ago", or "not synced yet")
and offers a Sync button, which syncs the panel's resources in the background. A connection (or
a newly chosen organization) whose mirror of those resources never ran gets its first sync at
once, in the background, when the dashboard shows it: the panel says "syncing…" and the page
reloads itself until the first rows are there (the invoices' list fields come with the first
list call; their details follow within the sync's share of the budget).

An invoice created on the panel while a sync of its connection runs cannot be synced at once:
it is kept here (the record Zoho answered, ten minutes at most) and shown on top until the mirror
holds it, and a sync of the invoices follows the running one. While the first sync has not
reached the contacts and items yet, the form's choices are read from Zoho (one list call each,
kept ten minutes).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .._exceptions import ReauthorizationRequired, ZohoError
from ..api.types import Contact, Invoice, Item, Tax
from ..mirror import ResourceName
from ._demo_invoices import (
    MAX_PAGE,
    PER_PAGE_CHOICES,
    InvoiceForm,
    InvoicePanel,
    default_tax,
    describe_error,
    today_utc,
)

if TYPE_CHECKING:
    from ..mirror import Mirror
    from ..vault import Connection
    from ._context import WebContext
    from ._sync_api import SyncRunner

__all__ = ["load_mirrored_panel", "remember_created", "synced_ago"]

logger = logging.getLogger("zoho_invoice.web")

#: The resources the panel shows, synced by its button.
PANEL_RESOURCES: tuple[ResourceName, ...] = ("invoices", "contacts", "items")
#: Seconds an organization's taxes are kept (they change rarely; the form only offers them).
TAXES_TTL = 600.0
_taxes: dict[tuple[str, str], tuple[float, list[Tax]]] = {}
_taxes_lock = threading.Lock()
#: Seconds an invoice created during a running sync is shown before the mirror holds it.
CREATED_TTL = 600.0
#: At most this many such invoices are kept (the oldest go first).
MAX_CREATED = 200
_created: dict[tuple[str, str], tuple[float, Invoice]] = {}


def remember_created(connection_id: str, invoice: Invoice) -> None:
    """Show ``invoice`` (as Zoho answered its creation) on its panel until the mirror has it."""
    now = time.monotonic()
    with _taxes_lock:
        for key, (at, _) in list(_created.items()):
            if now - at >= CREATED_TTL:
                del _created[key]
        while len(_created) >= MAX_CREATED:
            del _created[next(iter(_created))]
        _created[(connection_id, str(invoice.invoice_id))] = (now, invoice)


def _created_not_mirrored(panel: InvoicePanel) -> None:
    """The just-created invoice on top of page 1 while the mirror does not hold it yet."""
    if panel.created_id is None or panel.page != 1:
        return
    key = (panel.connection_id, panel.created_id)
    with _taxes_lock:
        if any(i.invoice_id == panel.created_id for i in panel.invoices):
            _created.pop(key, None)
            return
        kept = _created.get(key)
    if kept is not None and time.monotonic() - kept[0] < CREATED_TTL:
        panel.invoices = [kept[1], *panel.invoices][: panel.per_page]


def synced_ago(moment: datetime | None, now: datetime) -> str:
    """``"synced 3 minutes ago"``, ``"synced just now"``, or ``"not synced yet"``."""
    if moment is None:
        return "not synced yet"
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "synced just now"
    if minutes < 120:
        return f"synced {minutes} minute{'s' if minutes != 1 else ''} ago"
    return f"synced {minutes // 60} hours ago"


def _taxes_of(ctx: WebContext, connection_id: str, organization_id: str) -> list[Tax]:
    key = (connection_id, organization_id)
    now = time.monotonic()
    with _taxes_lock:
        kept = _taxes.get(key)
        if kept is not None and now - kept[0] < TAXES_TTL:
            return kept[1]
    with ctx.invoice_client(connection_id) as client:
        taxes = list(client.taxes.list(per_page=200).items)
    with _taxes_lock:
        _taxes[key] = (now, taxes)
    return taxes


_choices: dict[tuple[str, str], tuple[float, list[Contact], list[Item]]] = {}


def _choices_from_zoho(panel: InvoicePanel, ctx: WebContext) -> None:
    """The form's customers and items while the mirror has none yet (its first sync lists
    them after the invoices' details): one list call each, kept ten minutes like the taxes."""
    key = (panel.connection_id, panel.organization_id)
    now = time.monotonic()
    with _taxes_lock:
        kept = _choices.get(key)
    if kept is None or now - kept[0] >= TAXES_TTL:
        with ctx.invoice_client(panel.connection_id) as client:
            contacts = list(client.contacts.list(per_page=200).items)
            items = list(client.items.list(per_page=200).items)
        kept = (now, contacts, items)
        with _taxes_lock:
            _choices[key] = kept
    panel.contacts = panel.contacts or sorted(
        (c for c in kept[1] if (c.status or "active") == "active"),
        key=lambda c: (c.contact_name or "").casefold(),
    )
    panel.items = panel.items or sorted(
        (i for i in kept[2] if (i.status or "active") == "active"),
        key=lambda i: (i.name or "").casefold(),
    )


def _active(data: dict[str, object]) -> bool:
    return data.get("status", "active") == "active"


#: The fields the panel shows (a list row's): a record's detail (line items ...) is not parsed.
_INVOICE_FIELDS = (
    "invoice_id",
    "invoice_number",
    "customer_id",
    "customer_name",
    "date",
    "due_date",
    "status",
    "total",
    "balance",
    "currency_code",
)
_CONTACT_FIELDS = ("contact_id", "contact_name", "status")
_ITEM_FIELDS = ("item_id", "name", "rate", "status")


def _pick(data: dict[str, object], fields: tuple[str, ...]) -> dict[str, object]:
    return {k: data[k] for k in fields if k in data}


def _read(mirror: Mirror, panel: InvoicePanel) -> None:
    """The panel's rows from the mirror: a page of invoices (newest first), active contacts and
    items for the form."""
    cid = panel.connection_id
    rows = mirror.records(
        cid,
        "invoices",
        organization_id=panel.organization_id,
        limit=panel.per_page + 1,
        offset=(panel.page - 1) * panel.per_page,
    )
    panel.invoices = [
        Invoice.model_validate(_pick(r.data, _INVOICE_FIELDS)) for r in rows[: panel.per_page]
    ]
    panel.has_more = len(rows) > panel.per_page
    contacts = mirror.records(cid, "contacts", organization_id=panel.organization_id, limit=200)
    active = [r.data for r in contacts if _active(r.data)]
    panel.contacts = sorted(
        (Contact.model_validate(_pick(data, _CONTACT_FIELDS)) for data in active),
        key=lambda c: (c.contact_name or "").casefold(),
    )
    items = mirror.records(cid, "items", organization_id=panel.organization_id, limit=200)
    panel.items = sorted(
        (Item.model_validate(_pick(r.data, _ITEM_FIELDS)) for r in items if _active(r.data)),
        key=lambda i: (i.name or "").casefold(),
    )


def load_mirrored_panel(
    ctx: WebContext,
    runner: SyncRunner,
    conn: Connection,
    organization_name: str,
    *,
    page: int = 1,
    per_page: int = PER_PAGE_CHOICES[0],
    form: InvoiceForm | None = None,
    created_id: str | None = None,
) -> InvoicePanel:
    """One bound organization's panel from the mirror: what is there, and when it was synced."""
    panel = InvoicePanel(
        connection_id=str(conn.id),
        organization_id=str(conn.organization_id),
        organization_name=organization_name,
        page=max(1, min(page, MAX_PAGE)),
        per_page=per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0],
        form=form or InvoiceForm.blank(today_utc()),
        created_id=created_id,
    )
    try:
        now = ctx.vault.get_connection(panel.connection_id)
        if now.status != "active":  # found out on this very view (e.g. reading organizations)
            raise ReauthorizationRequired(
                "reconnect", connection_id=panel.connection_id, status=now.status
            )
        status = runner.mirror.status(panel.connection_id)
        by_resource = {r.resource: r for r in status.resources}
        invoices = by_resource.get("invoices")
        panel.synced_at = invoices.last_success_at if invoices else None
        panel.syncing = status.running or runner.is_running(panel.connection_id)
        ran = {r.resource: r.last_run_at for r in status.resources}
        if not panel.syncing and any(ran.get(r) is None for r in PANEL_RESOURCES):
            # Never synced (a new connection, a newly chosen organization): its first sync now.
            panel.syncing = runner.start_from_thread(
                panel.connection_id, resources=list(PANEL_RESOURCES)
            )
        failed = [r for r in status.resources if r.resource in PANEL_RESOURCES and r.error]
        if failed and not panel.syncing:  # a running sync is retrying: it says "syncing…"
            # The stored error is a class name and a redacted message (never a secret).
            panel.error = f"The last sync failed ({failed[0].error}); what was synced before shows."
        _read(runner.mirror, panel)
        _created_not_mirrored(panel)
        if panel.syncing and (not panel.contacts or not panel.items):
            _choices_from_zoho(panel, ctx)
        panel.taxes = _taxes_of(ctx, panel.connection_id, panel.organization_id)
        if panel.form is not None and panel.form.tax_id is None:
            panel.form.tax_id = default_tax(panel.taxes)
    except ZohoError as exc:
        logger.warning("demo: cannot read the panel: %s", type(exc).__name__)
        panel.error = describe_error(exc)
    panel.synced_text = synced_ago(panel.synced_at, datetime.now(UTC))
    return panel
