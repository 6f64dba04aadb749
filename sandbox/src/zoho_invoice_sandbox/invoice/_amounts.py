"""How an invoice or estimate adds up, in decimal arithmetic, rounded to 2 places like Zoho.

line total = rate x quantity - line discount (an amount, or ``"10%"`` of rate x quantity)
sub_total  = sum of line totals
discount   = the document's discount (an amount, or ``"10%"`` of sub_total)
tax        = each line's ``tax_percentage`` of its total; when ``is_discount_before_tax`` (the
             default) the document discount is spread over the lines first
total      = sub_total - discount + tax + shipping_charge + adjustment

A line naming a ``tax_id`` (or whose item has one) takes the organization's tax or tax group:
each simple tax is charged on the line, a compound one on the line plus the simple taxes, and
the document's ``taxes`` list each tax once. ``tax_required`` (a VAT or GST organization) refuses
a line with neither a tax nor a ``tax_exemption_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ._errors import invalid

__all__ = ["LineTax", "TaxPart", "compute", "money"]

_CENT = Decimal("0.01")
#: Bigger numbers are typing errors; they would also overflow floats in the JSON answer.
_MAX_AMOUNT = Decimal(10) ** 12


@dataclass(frozen=True, slots=True)
class TaxPart:
    """One tax a line pays: its id, name, rate and whether it is compound."""

    tax_id: str
    tax_name: str
    percentage: Decimal
    compound: bool = False


@dataclass(frozen=True, slots=True)
class LineTax:
    """What a line's ``tax_id`` names: a tax (one part) or a tax group (its members)."""

    tax_id: str
    tax_name: str
    tax_type: str
    parts: tuple[TaxPart, ...]

    @property
    def percentage(self) -> Decimal:
        """The rate the whole charges on a line: compound parts count on top of the others."""
        simple = sum((p.percentage for p in self.parts if not p.compound), Decimal(0))
        compound = sum((p.percentage for p in self.parts if p.compound), Decimal(0))
        return simple + compound * (1 + simple / 100)

    def amounts(self, base: Decimal) -> list[tuple[TaxPart, Decimal]]:
        simple = [(p, base * p.percentage / 100) for p in self.parts if not p.compound]
        taxed = base + sum((amount for _, amount in simple), Decimal(0))
        compound = [(p, taxed * p.percentage / 100) for p in self.parts if p.compound]
        return simple + compound


def money(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _decimal(value: Any, field: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or value is None or value == "":
        raise invalid(field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(field) from None
    if not number.is_finite() or (minimum is not None and number < minimum):
        raise invalid(field)
    if abs(number) > _MAX_AMOUNT:
        raise invalid(field)
    return number


def _discount(value: Any, base: Decimal, field: str) -> tuple[Decimal, str | float]:
    """An amount or a percentage of ``base``; returns (amount, the value as Zoho echoes it)."""
    if value in (None, "", 0):
        return Decimal(0), 0.0
    if isinstance(value, str) and value.strip().endswith("%"):
        percent = _decimal(value.strip()[:-1], field)
        if percent > 100:
            raise invalid(field)
        return base * percent / 100, f"{percent.normalize():f}%"
    amount = _decimal(value, field)
    if amount > base:
        raise invalid(field)
    return amount, float(amount)


def compute(
    body: Mapping[str, Any],
    *,
    lookup_item: Callable[[str], Mapping[str, Any] | None],
    new_line_id: Callable[[], str],
    lookup_tax: Callable[[str], LineTax | None] | None = None,
    tax_required: bool = False,
) -> dict[str, Any]:
    """Line items and totals of a document from its request body.

    Lines naming an ``item_id`` take the item's name, description, rate and tax unless given.
    """
    raw_lines = body.get("line_items")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise invalid("line_items")
    lines: list[dict[str, Any]] = []
    totals: list[Decimal] = []
    line_taxes: list[LineTax | None] = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise invalid("line_items")
        line: dict[str, Any] = {}
        item_id = raw.get("item_id")
        item: Mapping[str, Any] = {}
        if item_id not in (None, ""):
            found = lookup_item(str(item_id))
            if found is None:
                raise invalid("item_id")
            item = found
            line["item_id"] = str(item_id)
        name = raw.get("name", item.get("name"))
        if not isinstance(name, str) or not name.strip():
            raise invalid("line_items.name")
        rate = _decimal(raw.get("rate", item.get("rate")), "rate")
        quantity = _decimal(raw.get("quantity", 1), "quantity")
        gross = rate * quantity
        discount, discount_echo = _discount(raw.get("discount"), gross, "discount")
        line_tax = _line_tax(raw, item, lookup_tax, tax_required)
        if line_tax is not None:
            tax_percentage = line_tax.percentage
        else:
            tax_percentage = _decimal(raw.get("tax_percentage", 0) or 0, "tax_percentage")
        if tax_percentage > 100:
            raise invalid("tax_percentage")
        line_total = (gross - discount).quantize(_CENT, rounding=ROUND_HALF_UP)
        line.update(
            {
                "line_item_id": str(raw.get("line_item_id") or new_line_id()),
                "name": name.strip(),
                "description": str(raw.get("description", item.get("description", "")) or ""),
                "rate": float(rate),
                "quantity": float(quantity),
                "unit": str(raw.get("unit", item.get("unit", "")) or ""),
                "discount": discount_echo,
                "tax_name": str(
                    raw.get("tax_name") or (f"Tax {tax_percentage:f}%" if tax_percentage else "")
                ),
                "tax_percentage": float(tax_percentage),
                "item_total": money(line_total),
            }
        )
        if line_tax is not None:
            line.update(
                tax_id=line_tax.tax_id,
                tax_name=line_tax.tax_name,
                tax_type=line_tax.tax_type,
                tax_percentage=float(tax_percentage.quantize(Decimal("0.0001"))),
            )
        lines.append(line)
        totals.append(line_total)
        line_taxes.append(line_tax)

    sub_total = sum(totals, Decimal(0))
    discount_total, discount_echo = _discount(body.get("discount"), sub_total, "discount")
    before_tax = body.get("is_discount_before_tax", True)
    if not isinstance(before_tax, bool):
        raise invalid("is_discount_before_tax")
    factor = (sub_total - discount_total) / sub_total if before_tax and sub_total else Decimal(1)
    # Keyed by (tax_id, name): a named tax of the organization, or a line's own percentage.
    taxes: dict[tuple[str, str], Decimal] = {}
    for line, line_total, line_tax in zip(lines, totals, line_taxes, strict=True):
        if line_tax is not None:
            for part, tax in line_tax.amounts(line_total * factor):
                key = (part.tax_id, part.tax_name)
                taxes[key] = taxes.get(key, Decimal(0)) + tax
        elif line["tax_percentage"]:
            tax = line_total * factor * Decimal(str(line["tax_percentage"])) / 100
            key = ("", line["tax_name"])
            taxes[key] = taxes.get(key, Decimal(0)) + tax
    tax_total = sum((t.quantize(_CENT, rounding=ROUND_HALF_UP) for t in taxes.values()), Decimal(0))
    shipping = _decimal(body.get("shipping_charge", 0) or 0, "shipping_charge")
    adjustment = _decimal(body.get("adjustment", 0) or 0, "adjustment", minimum=None)
    total = (
        sub_total.quantize(_CENT)
        - discount_total.quantize(_CENT, rounding=ROUND_HALF_UP)
        + tax_total
        + shipping
        + adjustment
    )
    if total < 0:
        raise invalid("adjustment")
    return {
        "line_items": lines,
        "discount": discount_echo,
        "is_discount_before_tax": before_tax,
        "sub_total": money(sub_total),
        "discount_total": money(discount_total),
        "taxes": [
            {**({"tax_id": tax_id} if tax_id else {}), "tax_name": name, "tax_amount": money(v)}
            for (tax_id, name), v in taxes.items()
        ],
        "tax_total": money(tax_total),
        "shipping_charge": money(shipping),
        "adjustment": money(adjustment),
        "total": money(total),
    }


def _line_tax(
    raw: Mapping[str, Any],
    item: Mapping[str, Any],
    lookup_tax: Callable[[str], LineTax | None] | None,
    required: bool,
) -> LineTax | None:
    """The organization's tax a line names (its own ``tax_id``, else its item's), if any."""
    tax_id = raw.get("tax_id", item.get("tax_id"))
    if tax_id in (None, ""):
        if required and raw.get("tax_exemption_id") in (None, ""):
            raise invalid("tax_id")
        return None
    if isinstance(tax_id, bool) or not isinstance(tax_id, str | int) or lookup_tax is None:
        raise invalid("tax_id")
    found = lookup_tax(str(tax_id))
    if found is None:
        raise invalid("tax_id")
    return found
