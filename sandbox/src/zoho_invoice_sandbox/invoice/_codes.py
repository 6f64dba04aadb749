"""Zoho's error answers that differ per resource: unknown ids, names taken, records in use.

Each resource has its own code (an unknown item is 2006, not 1002; a taken contact name is 3062,
a taken item name 1000), so a client tested against the sandbox meets the codes real Zoho sends.
Codes and the sourced wordings are listed with their sources in docs/zoho/sandbox-rules.md;
wording marked "ours" is not published by Zoho.
"""

from __future__ import annotations

from ._errors import ZohoAPIFailure
from ._resources import Resource

__all__ = [
    "contact_has_transactions",
    "contact_name_taken",
    "item_in_use",
    "item_name_taken",
    "missing",
    "payment_above_balance",
]

#: Resources whose unknown id is not Zoho's generic 1002: table → (code, message).
_MISSING = {"items": (2006, "Item does not exist")}


def missing(res: Resource) -> ZohoAPIFailure:
    """404 for an unknown id: 2006 for items, 1002 "<Label> does not exist." for the others."""
    code, message = _MISSING.get(res.table, (1002, f"{res.label} does not exist."))
    return ZohoAPIFailure(404, code, message)


def contact_name_taken(name: str, contact_type: str) -> ZohoAPIFailure:
    """400 code 3062: Zoho keeps contact names unique within the organization."""
    kind = "vendor" if contact_type == "vendor" else "customer"
    return ZohoAPIFailure(
        400, 3062, f'The {kind} "{name[:200]}" already exists. Please specify a different name.'
    )


def contact_has_transactions() -> ZohoAPIFailure:
    """400 code 3000 (wording ours)."""
    return ZohoAPIFailure(
        400,
        3000,
        "This contact has transactions and cannot be deleted. Mark it as inactive instead.",
    )


def item_name_taken() -> ZohoAPIFailure:
    """400 code 1000, in Zoho's documented words (1000 is also its 'Internal error')."""
    return ZohoAPIFailure(400, 1000, "The item name already exist")


def item_in_use() -> ZohoAPIFailure:
    """400 code 2049, in Zoho's documented words."""
    return ZohoAPIFailure(
        400,
        2049,
        "Items which are a part of other transactions cannot be deleted. "
        "Instead, mark them as inactive",
    )


def payment_above_balance() -> ZohoAPIFailure:
    """400 code 24016: more applied to an invoice than it has due (wording ours)."""
    return ZohoAPIFailure(
        400, 24016, "The amount applied to an invoice cannot be more than its balance due."
    )
