"""How an invoice or estimate adds up, in decimal arithmetic, rounded to 2 places like Zoho.

line total = rate x quantity - line discount (an amount, or ``"10%"`` of rate x quantity)
sub_total  = sum of line totals
discount   = the document's discount (an amount, or ``"10%"`` of sub_total)
tax        = each line's ``tax_percentage`` of its total; when ``is_discount_before_tax`` (the
             default) the document discount is spread over the lines first
total      = sub_total - discount + tax + shipping_charge + adjustment
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ._errors import invalid

_CENT = Decimal("0.01")
#: Bigger numbers are typing errors; they would also overflow floats in the JSON answer.
_MAX_AMOUNT = Decimal(10) ** 12


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
) -> dict[str, Any]:
    """Line items and totals of a document from its request body.

    Lines naming an ``item_id`` take the item's name, description and rate unless given.
    """
    raw_lines = body.get("line_items")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise invalid("line_items")
    lines: list[dict[str, Any]] = []
    totals: list[Decimal] = []
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
        lines.append(line)
        totals.append(line_total)

    sub_total = sum(totals, Decimal(0))
    discount_total, discount_echo = _discount(body.get("discount"), sub_total, "discount")
    before_tax = body.get("is_discount_before_tax", True)
    if not isinstance(before_tax, bool):
        raise invalid("is_discount_before_tax")
    factor = (sub_total - discount_total) / sub_total if before_tax and sub_total else Decimal(1)
    taxes: dict[str, Decimal] = {}
    for line, line_total in zip(lines, totals, strict=True):
        if line["tax_percentage"]:
            tax = line_total * factor * Decimal(str(line["tax_percentage"])) / 100
            taxes[line["tax_name"]] = taxes.get(line["tax_name"], Decimal(0)) + tax
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
        "taxes": [{"tax_name": k, "tax_amount": money(v)} for k, v in taxes.items()],
        "tax_total": money(tax_total),
        "shipping_charge": money(shipping),
        "adjustment": money(adjustment),
        "total": money(total),
    }
