"""One organization's taxes, tax groups and currencies, and the sandbox's tax rule.

HTTP-free like ``_books``: the routes (``_settings_routes``) and the invoice rules
(``Books._amounts``, ``Books.save_contact``) call in here. An organization gets its edition's
preset taxes and currencies (``_tax_setup``) the first time any of them is needed.

Two settings (``TaxRules``) play what Zoho's pages leave open:

- ``line_tax``: Zoho documents no error for an invoice line without a tax. ``"registered"`` (the
  default) refuses one in a VAT or GST organization, ``"always"`` everywhere, ``"never"``
  nowhere. The refusal is 400 code 2 "Invalid value passed for tax_id", the sandbox's answer to
  any missing or unknown value (the wording is ours).
- ``group_listing``: ``GET /settings/taxes`` shows tax groups among the taxes (``tax_type
  "tax_group"``, ``"inline"``, the default) or in a ``tax_groups`` array beside them
  (``"separate"``), the two readings found.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from ._amounts import LineTax, TaxPart
from ._errors import ZohoAPIFailure, invalid, not_found
from ._resources import CURRENCIES, TAXES
from ._store import Doc, InvoiceStore
from ._tax_setup import CURRENCY_INFO, profile_for, usd_value

__all__ = ["CURRENCY_MISSING", "OrgSettings", "TaxRules", "rules_for", "set_rules"]

LineTaxRule = Literal["registered", "always", "never"]
GroupListing = Literal["inline", "separate"]
#: Zoho's documented answer to a contact naming an unknown currency.
CURRENCY_MISSING = "This currency does not exist. Please choose a valid currency"
_TAX_FIELDS = {
    "tax_specific_type": "",
    "tax_authority_id": "",
    "tax_authority_name": "",
    "is_value_added": False,
    "tax_factor": "",
    "tax_account_id": "",
    "purchase_tax_account_id": "",
    "country_code": "",
    "is_editable": True,
}
_MAX_NAME = 50


@dataclass(frozen=True, slots=True)
class TaxRules:
    """What the sandbox plays where Zoho's documentation is silent."""

    line_tax: LineTaxRule = "registered"
    group_listing: GroupListing = "inline"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> TaxRules:
        unknown = set(changes) - {"line_tax", "group_listing"}
        if unknown:
            raise ValueError(f"unknown field {sorted(unknown)[0]}")
        line_tax = changes.get("line_tax", self.line_tax)
        if line_tax not in ("registered", "always", "never"):
            raise ValueError("line_tax")
        listing = changes.get("group_listing", self.group_listing)
        if listing not in ("inline", "separate"):
            raise ValueError("group_listing")
        return replace(
            self, line_tax=cast(LineTaxRule, line_tax), group_listing=cast(GroupListing, listing)
        )


_RULES: weakref.WeakKeyDictionary[InvoiceStore, TaxRules] = weakref.WeakKeyDictionary()


def rules_for(store: InvoiceStore) -> TaxRules:
    """The tax rule of the world this store belongs to."""
    return _RULES.get(store, TaxRules())


def set_rules(store: InvoiceStore, rules: TaxRules) -> None:
    _RULES[store] = rules


def _percentage(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value in (None, ""):
        raise invalid(field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(field) from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise invalid(field)
    return number


def _name(body: Mapping[str, Any], field: str, default: str | None = None) -> str:
    value = body.get(field, default)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        raise invalid(field)
    return value.strip()


class OrgSettings:
    """The taxes and currencies of ``org`` (base currency ``base_currency``) at ``today``."""

    def __init__(self, store: InvoiceStore, org: str, base_currency: str, today: str) -> None:
        self.store = store
        self.org = org
        self.base_currency = base_currency
        self.today = today
        self.profile = profile_for(base_currency)

    # -- the preset ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Give the organization its edition's taxes and currencies, once."""
        if self.store.peek_number(self.org, "settings"):
            return
        with self.store.transaction():
            if self.store.peek_number(self.org, "settings"):
                return
            ids: dict[str, str] = {}
            for seed in self.profile.taxes:
                doc = self._tax_doc(
                    {
                        "tax_name": seed.name,
                        "tax_percentage": seed.percentage,
                        "tax_type": seed.tax_type,
                        "tax_specific_type": seed.specific_type,
                        "tax_authority_name": seed.authority,
                    }
                )
                doc["is_value_added"] = self.profile.registered
                self.store.insert(TAXES, self.org, doc)
                ids[seed.name] = doc["tax_id"]
            for name, members in self.profile.groups:
                group = self._group_doc(
                    {"tax_group_name": name, "taxes": [ids[m] for m in members]}
                )
                self.store.insert(TAXES, self.org, group)
            for code in dict.fromkeys((self.base_currency, *self.profile.currencies)):
                self.store.insert(CURRENCIES, self.org, self._currency_doc(code))
            self.store.next_numbers(self.org, "settings")

    @property
    def registered(self) -> bool:
        return self.profile.registered

    def line_tax_required(self) -> bool:
        rule = rules_for(self.store).line_tax
        return rule == "always" or (rule == "registered" and self.registered)

    # -- taxes ----------------------------------------------------------------------------------

    def _tax_doc(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        merged: dict[str, Any] = {**(existing or {}), **body}
        tax_type = merged.get("tax_type") or "tax"
        if tax_type not in ("tax", "compound_tax"):
            raise invalid("tax_type")
        doc: Doc = {
            **_TAX_FIELDS,
            **{k: v for k, v in (existing or {}).items() if k in _TAX_FIELDS},
            "tax_id": existing["tax_id"] if existing else self.store.new_ids()[0],
            "tax_name": _name(merged, "tax_name"),
            "tax_percentage": float(_percentage(merged.get("tax_percentage"), "tax_percentage")),
            "tax_type": tax_type,
        }
        for field, default in _TAX_FIELDS.items():
            value = body.get(field)
            if value is not None and isinstance(value, type(default)):
                doc[field] = value
        return doc

    def _members(self, value: Any) -> list[Doc]:
        if isinstance(value, str):
            ids = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            ids = [str(v) for v in value]
        else:
            raise invalid("taxes")
        if len(ids) < 2 or len(set(ids)) != len(ids):
            raise invalid("taxes")
        members = [self.store.get(TAXES, self.org, tax_id) for tax_id in ids]
        taxes = [m for m in members if m is not None and m["tax_type"] != "tax_group"]
        if len(taxes) != len(ids) or sum(t["tax_type"] == "compound_tax" for t in taxes) > 1:
            raise invalid("taxes")
        return taxes

    def _group_doc(self, body: Mapping[str, Any], existing: Doc | None = None) -> Doc:
        name = _name(body, "tax_group_name", existing["tax_name"] if existing else None)
        member_ids = body.get("taxes", existing["tax_ids"] if existing else None)
        members = self._members(member_ids)
        return {
            "tax_id": existing["tax_id"] if existing else self.store.new_ids()[0],
            "tax_name": name,
            "tax_type": "tax_group",
            "tax_percentage": float(
                sum((Decimal(str(m["tax_percentage"])) for m in members), Decimal(0))
            ),
            "tax_ids": [m["tax_id"] for m in members],
        }

    def _doc(self, tax_id: str, *, group: bool) -> Doc:
        self.ensure()
        doc = self.store.get(TAXES, self.org, tax_id)
        if doc is None or (doc["tax_type"] == "tax_group") != group:
            raise not_found("Tax group" if group else "Tax")
        return doc

    @staticmethod
    def present_tax(doc: Doc) -> Doc:
        """A tax as Zoho lists it (a group shows as ``tax_type "tax_group"``)."""
        if doc["tax_type"] == "tax_group":
            return {
                **_TAX_FIELDS,
                "tax_id": doc["tax_id"],
                "tax_name": doc["tax_name"],
                "tax_percentage": doc["tax_percentage"],
                "tax_type": "tax_group",
            }
        return dict(doc)

    def taxes(self, page: int, per_page: int) -> tuple[list[Doc], bool, list[Doc] | None]:
        """A page of taxes, whether more follow, and the groups when listed apart (else None)."""
        self.ensure()
        separate = rules_for(self.store).group_listing == "separate"
        docs = self.store.select(
            TAXES,
            self.org,
            where=["tax_type != ?"] if separate else [],
            params=["tax_group"] if separate else [],
            order_by="tax_name ASC, id ASC",
            limit=per_page + 1,
            offset=(page - 1) * per_page,
        )
        groups = None
        if separate:
            rows = self.store.select(
                TAXES, self.org, where=["tax_type = ?"], params=["tax_group"], order_by="tax_name"
            )
            groups = [self.present_group(g) for g in rows]
        return [self.present_tax(d) for d in docs[:per_page]], len(docs) > per_page, groups

    def tax(self, tax_id: str) -> Doc:
        self.ensure()
        doc = self.store.get(TAXES, self.org, tax_id)
        if doc is None:
            raise not_found("Tax")
        return self.present_tax(doc)

    def save_tax(self, body: Mapping[str, Any], tax_id: str | None = None) -> Doc:
        self.ensure()
        with self.store.transaction():
            existing = self._doc(tax_id, group=False) if tax_id else None
            doc = self._tax_doc(body, existing)
            if existing:
                self.store.replace(TAXES, self.org, doc)
                self._refresh_groups(doc["tax_id"])
            else:
                self.store.insert(TAXES, self.org, doc)
        return doc

    def delete_tax(self, tax_id: str) -> None:
        with self.store.transaction():
            self._doc(tax_id, group=False)
            if self._groups_with(tax_id):
                # Undocumented: the sandbox keeps a group whole rather than orphan its member.
                raise ZohoAPIFailure(
                    400, 2, "This tax is part of a tax group. Remove it from the group first."
                )
            self.store.delete(TAXES, self.org, tax_id)

    def _groups_with(self, tax_id: str) -> list[Doc]:
        groups = self.store.select(TAXES, self.org, where=["tax_type = ?"], params=["tax_group"])
        return [g for g in groups if tax_id in g.get("tax_ids", [])]

    def _refresh_groups(self, tax_id: str) -> None:
        for group in self._groups_with(tax_id):
            self.store.replace(TAXES, self.org, self._group_doc({}, group))

    # -- tax groups -----------------------------------------------------------------------------

    def present_group(self, doc: Doc) -> Doc:
        members = [self.store.get(TAXES, self.org, tax_id) for tax_id in doc["tax_ids"]]
        return {
            "tax_group_id": doc["tax_id"],
            "tax_group_name": doc["tax_name"],
            "tax_group_percentage": doc["tax_percentage"],
            "taxes": [
                {
                    "tax_id": m["tax_id"],
                    "tax_name": m["tax_name"],
                    "tax_percentage": m["tax_percentage"],
                    "tax_type": m["tax_type"],
                }
                for m in members
                if m is not None
            ],
        }

    def group(self, tax_group_id: str) -> Doc:
        return self.present_group(self._doc(tax_group_id, group=True))

    def save_group(self, body: Mapping[str, Any], tax_group_id: str | None = None) -> Doc:
        self.ensure()
        with self.store.transaction():
            existing = self._doc(tax_group_id, group=True) if tax_group_id else None
            doc = self._group_doc(body, existing)
            if existing:
                self.store.replace(TAXES, self.org, doc)
            else:
                self.store.insert(TAXES, self.org, doc)
        return self.present_group(doc)

    def delete_group(self, tax_group_id: str) -> None:
        with self.store.transaction():
            self._doc(tax_group_id, group=True)
            self.store.delete(TAXES, self.org, tax_group_id)

    # -- what an invoice line's tax_id names ---------------------------------------------------

    def line_tax(self, tax_id: str) -> LineTax | None:
        self.ensure()
        doc = self.store.get(TAXES, self.org, tax_id)
        if doc is None:
            return None
        if doc["tax_type"] == "tax_group":
            members = [self.store.get(TAXES, self.org, m) for m in doc["tax_ids"]]
            parts = tuple(_part(m) for m in members if m is not None)
        else:
            parts = (_part(doc),)
        return LineTax(doc["tax_id"], doc["tax_name"], doc["tax_type"], parts)

    # -- currencies -------------------------------------------------------------------------------

    def _currency_doc(self, code: str) -> Doc:
        name, symbol, _ = CURRENCY_INFO.get(code, (code, code, "1"))
        base = code == self.base_currency
        rate = usd_value(code) / usd_value(self.base_currency)
        return {
            "currency_id": self.store.new_ids()[0],
            "currency_code": code,
            "currency_name": f"{code}- {name}",
            "currency_symbol": symbol,
            "price_precision": 0 if code == "JPY" else 2,
            "currency_format": "1,234,567.89",
            "is_base_currency": base,
            "exchange_rate": 1.0 if base else float(rate.quantize(Decimal("0.000001"))),
            "effective_date": self.today,
        }

    def currencies(self, page: int, per_page: int, *, exclude_base: bool) -> tuple[list[Doc], bool]:
        self.ensure()
        where = ["currency_code != ?"] if exclude_base else []
        docs = self.store.select(
            CURRENCIES,
            self.org,
            where=where,
            params=[self.base_currency] if exclude_base else [],
            order_by="currency_code ASC, id ASC",
            limit=per_page + 1,
            offset=(page - 1) * per_page,
        )
        return docs[:per_page], len(docs) > per_page

    def currency(self, currency_id: str) -> Doc:
        self.ensure()
        doc = self.store.get(CURRENCIES, self.org, currency_id)
        if doc is None:
            raise not_found("Currency")
        return doc

    def contact_currency(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``currency_id`` and ``currency_code`` of a contact from its request body.

        An unknown ``currency_id`` is Zoho's 400 code 9004. A bare ``currency_code`` (an older
        habit of this sandbox) is matched to the organization's currency of that code.
        """
        self.ensure()
        currency_id = body.get("currency_id")
        if currency_id not in (None, ""):
            doc = self.store.get(CURRENCIES, self.org, str(currency_id))
            if doc is None or isinstance(currency_id, bool):
                raise ZohoAPIFailure(400, 9004, CURRENCY_MISSING)
            return {"currency_id": doc["currency_id"], "currency_code": doc["currency_code"]}
        code = body.get("currency_code") or self.base_currency
        found = self.store.select(
            CURRENCIES, self.org, where=["currency_code = ?"], params=[str(code)], limit=1
        )
        return {
            "currency_id": found[0]["currency_id"] if found else "",
            "currency_code": str(code),
        }

    def exchange_rate(self, currency_code: str) -> float:
        found = self.store.select(
            CURRENCIES, self.org, where=["currency_code = ?"], params=[currency_code], limit=1
        )
        return float(found[0]["exchange_rate"]) if found else 1.0


def _part(doc: Doc) -> TaxPart:
    return TaxPart(
        doc["tax_id"],
        doc["tax_name"],
        Decimal(str(doc["tax_percentage"])),
        compound=doc["tax_type"] == "compound_tax",
    )
