"""Realistic, deterministic data for a simulated organization, inserted in bulk.

The same ``seed`` (and the same day) gives the same names, e-mails, amounts, dates and statuses.
20,000 invoices take a few seconds: documents are built in Python and written with one
``executemany`` per table inside one transaction.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._amounts import compute, money
from ._resources import CONTACTS, ESTIMATES, INVOICES, ITEMS, PAYMENTS, Resource
from ._store import Doc, InvoiceStore
from ._time import format_timestamp, today

if TYPE_CHECKING:  # the world imports this package's store: no import at run time
    from .._world import SandboxWorld

__all__ = ["SeedResult", "seed_organization"]

_FIRST = (
    "Maria", "James", "Aiko", "Liam", "Sofia", "Noah", "Priya", "Lucas", "Emma", "Mateo",
    "Olivia", "Ethan", "Chloe", "Arjun", "Hannah", "Leon", "Yuki", "Omar", "Grace", "Felix",
    "Isabel", "Daniel", "Mia", "Samuel", "Zoe", "Ravi", "Clara", "Hugo", "Lena", "Tomas",
)  # fmt: skip
_LAST = (
    "Garcia", "Smith", "Tanaka", "Murphy", "Rossi", "Johnson", "Patel", "Silva", "Martin",
    "Lopez", "Brown", "Schmidt", "Dubois", "Sharma", "Keller", "Novak", "Haddad", "Walker",
    "Moreau", "Fischer", "Costa", "Nguyen", "Kowalski", "Ito", "Andersen", "Reyes", "Young",
    "Hughes", "Bauer", "Okafor",
)  # fmt: skip
_COMPANY = (
    "Logistics", "Design Studio", "Consulting", "Bakery", "Hardware", "Media", "Dental Care",
    "Architects", "Software", "Catering", "Print Shop", "Motors", "Florists", "Legal",
    "Fitness", "Analytics", "Travel", "Farms", "Robotics", "Textiles",
)  # fmt: skip
_SUFFIX = ("LLC", "Inc.", "Ltd", "GmbH", "& Co.", "Group", "Partners", "")
_CATALOG = (
    ("Consulting hour", 150.0, "hrs", "service"),
    ("Website maintenance", 450.0, "month", "service"),
    ("Logo design", 800.0, "", "service"),
    ("Copywriting (per page)", 95.0, "page", "service"),
    ("On-site support", 120.0, "hrs", "service"),
    ("Cloud hosting plan", 49.99, "month", "service"),
    ("SEO audit", 1200.0, "", "service"),
    ("Training workshop", 2500.0, "day", "service"),
    ("Software license", 299.0, "seat", "goods"),
    ("Laptop stand", 39.5, "pcs", "goods"),
    ("Wireless keyboard", 59.9, "pcs", "goods"),
    ("USB-C hub", 34.99, "pcs", "goods"),
    ("Office chair", 289.0, "pcs", "goods"),
    ("Printer paper (box)", 24.75, "box", "goods"),
    ("Toner cartridge", 78.2, "pcs", "goods"),
    ("Photography session", 650.0, "", "service"),
    ("Video editing hour", 85.0, "hrs", "service"),
    ("Translation (per 1000 words)", 110.0, "", "service"),
    ("Delivery fee", 15.0, "", "service"),
    ("Annual support contract", 3600.0, "year", "service"),
)
_TAXES = (0.0, 0.0, 0.0, 5.0, 8.25, 10.0, 20.0)
_MODES = ("banktransfer", "creditcard", "cash", "check", "paypal")


@dataclass(frozen=True, slots=True)
class SeedResult:
    """How many documents of each kind were created for ``organization_id``."""

    organization_id: str
    contacts: int
    items: int
    invoices: int
    estimates: int
    payments: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ").strip().replace(" ", "-")


def _stamp_pair(rng: random.Random, day: date, now: float) -> tuple[str, str]:
    midnight = datetime.combine(day, datetime.min.time(), UTC).timestamp()
    created = min(now, midnight + rng.randint(8 * 3600, 18 * 3600))
    modified = min(now, created + rng.choice((0, 0, 3600, 86400 * rng.randint(1, 20))))
    return format_timestamp(created), format_timestamp(modified)


def seed_organization(
    target: SandboxWorld | InvoiceStore,
    organization_id: str,
    *,
    contacts: int = 50,
    items: int = 20,
    invoices: int = 200,
    estimates: int = 0,
    seed: int = 0,
    currency_code: str | None = None,
    now: float | None = None,
) -> SeedResult:
    """Create contacts, items, invoices (with their payments) and estimates in one organization.

    ``target`` is a ``SandboxWorld`` (its Invoice store, clock and the organization's currency)
    or an ``InvoiceStore``. Invoices go to existing contacts when ``contacts=0``. Dates spread
    over the year before ``now``; statuses: draft, sent, viewed, overdue, partially paid, paid,
    void.

    >>> seed_organization(world, org.organization_id, contacts=100, invoices=20_000, seed=7)
    """
    if isinstance(target, InvoiceStore):
        store = target
        now = now if now is not None else datetime.now(UTC).timestamp()
    else:
        store = target.invoices
        now = now if now is not None else float(target.clock())
        org = target.directory.organization(organization_id)
        if currency_code is None and org is not None:
            currency_code = org.currency_code
    currency = currency_code or "USD"
    rng = random.Random(seed)
    day0 = today(now)
    created_contacts: list[Doc] = []
    created_items: list[Doc] = []
    invoice_docs: list[Doc] = []
    payment_docs: list[Doc] = []
    estimate_docs: list[Doc] = []

    with store.transaction():
        for contact_id in store.new_ids(contacts):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            company = f"{last} {rng.choice(_COMPANY)} {rng.choice(_SUFFIX)}".strip()
            is_company = rng.random() < 0.7
            created, modified = _stamp_pair(rng, day0 - timedelta(days=rng.randint(365, 900)), now)
            created_contacts.append(
                {
                    "contact_id": contact_id,
                    "contact_name": company if is_company else f"{first} {last}",
                    "company_name": company if is_company else "",
                    "contact_type": "customer",
                    "status": "active" if rng.random() < 0.93 else "inactive",
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first}.{last}@{_slug(company)}.example".lower(),
                    "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                    "currency_code": currency,
                    "payment_terms": rng.choice((0, 15, 30, 30, 45, 60)),
                    "billing_address": {
                        "address": f"{rng.randint(1, 999)} {rng.choice(_LAST)} Street",
                        "city": rng.choice(("Springfield", "Riverton", "Lakeside", "Fairview")),
                        "zip": f"{rng.randint(10000, 99999)}",
                        "country": "U.S.A",
                    },
                    "contact_persons": [],
                    "notes": "",
                    "created_time": created,
                    "last_modified_time": modified,
                }
            )
        store.insert_many(CONTACTS, organization_id, created_contacts)

        for index, item_id in enumerate(store.new_ids(items)):
            name, rate, unit, kind = _CATALOG[index % len(_CATALOG)]
            if index >= len(_CATALOG):
                name = f"{name} ({index // len(_CATALOG) + 1})"
            created, modified = _stamp_pair(rng, day0 - timedelta(days=rng.randint(365, 900)), now)
            created_items.append(
                {
                    "item_id": item_id,
                    "name": name,
                    "description": f"{name} as agreed",
                    "rate": rate,
                    "unit": unit,
                    "sku": f"SKU-{index + 1:05d}",
                    "product_type": kind,
                    "status": "active",
                    "created_time": created,
                    "last_modified_time": modified,
                }
            )
        store.insert_many(ITEMS, organization_id, created_items)

        customers = created_contacts or store.select(CONTACTS, organization_id, limit=5000)
        catalog = created_items or store.select(ITEMS, organization_id, limit=500)
        if (invoices or estimates) and not customers:
            raise ValueError("seeding invoices or estimates needs contacts: pass contacts=N")
        by_id = {item["item_id"]: item for item in catalog}
        line_ids = iter(store.new_ids(4 * (invoices + estimates)))

        def lines() -> list[dict[str, Any]]:
            chosen: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 4)):
                line: dict[str, Any]
                if catalog:
                    item = rng.choice(catalog)
                    line = {"item_id": item["item_id"]}
                else:
                    name, rate, _, _ = rng.choice(_CATALOG)
                    line = {"name": name, "rate": rate}
                line["quantity"] = rng.randint(1, 12)
                if rng.random() < 0.15:
                    line["discount"] = f"{rng.choice((5, 10, 15))}%"
                line["tax_percentage"] = rng.choice(_TAXES)
                chosen.append(line)
            return chosen

        def body(customer: Doc) -> dict[str, Any]:
            result: dict[str, Any] = {"line_items": lines(), "customer_id": customer["contact_id"]}
            if rng.random() < 0.1:
                result["discount"] = f"{rng.choice((2, 5, 10))}%"
            if rng.random() < 0.1:
                result["shipping_charge"] = rng.choice((9.95, 15.0, 25.0))
            return result

        def amounts(spec: dict[str, Any]) -> dict[str, Any]:
            return compute(spec, lookup_item=by_id.get, new_line_id=line_ids.__next__)

        numbers = _numbers(store, organization_id, INVOICES, "INV-", invoices)
        payment_numbers = iter(store.next_numbers(organization_id, "payment", invoices))
        ids = iter(store.new_ids(2 * invoices))
        for number in numbers:
            customer = rng.choice(customers)
            invoice_day = day0 - timedelta(days=rng.randint(0, 364))
            terms = int(customer.get("payment_terms") or 0)
            due = invoice_day + timedelta(days=terms)
            figures = amounts(body(customer))
            total = Decimal(str(figures["total"]))
            roll = rng.random()
            status = (
                "draft"
                if roll < 0.06
                else "void"
                if roll < 0.09
                else "paid"
                if roll < 0.55
                else "partially_paid"
                if roll < 0.65
                else "viewed"
                if roll < 0.75
                else "sent"
            )
            paid = Decimal(0)
            if status == "paid":
                paid = total
            elif status == "partially_paid":
                paid = (total * Decimal(rng.randint(20, 80)) / 100).quantize(Decimal("0.01"))
                if paid <= 0 or paid >= total:
                    status, paid = "sent", Decimal(0)
            created, modified = _stamp_pair(rng, invoice_day, now)
            invoice_id = next(ids)
            invoice: Doc = {
                "invoice_id": invoice_id,
                "invoice_number": number,
                "customer_id": customer["contact_id"],
                "customer_name": customer["contact_name"],
                "email": customer.get("email", ""),
                "reference_number": f"PO-{rng.randint(1000, 99999)}" if rng.random() < 0.4 else "",
                "date": invoice_day.isoformat(),
                "due_date": due.isoformat(),
                "payment_terms": terms,
                "status": status,
                "currency_code": currency,
                **figures,
                "payment_made": money(paid),
                "balance": 0.0 if status == "void" else money(total - paid),
                "payments": [],
                "is_emailed": status not in ("draft", "void") and rng.random() < 0.7,
                "notes": "Thank you for your business.",
                "terms": f"Payment due within {terms} days." if terms else "Due on receipt.",
                "created_time": created,
                "last_modified_time": modified,
            }
            if paid > 0:
                pay_day = min(day0, invoice_day + timedelta(days=rng.randint(0, terms + 10)))
                payment_id = next(ids)
                payment_number = str(next(payment_numbers))
                mode = rng.choice(_MODES)
                pay_created, pay_modified = _stamp_pair(rng, pay_day, now)
                invoice["payments"] = [
                    {
                        "payment_id": payment_id,
                        "payment_number": payment_number,
                        "date": pay_day.isoformat(),
                        "amount": money(paid),
                        "payment_mode": mode,
                    }
                ]
                payment_docs.append(
                    {
                        "payment_id": payment_id,
                        "payment_number": payment_number,
                        "customer_id": customer["contact_id"],
                        "customer_name": customer["contact_name"],
                        "payment_mode": mode,
                        "date": pay_day.isoformat(),
                        "amount": money(paid),
                        "unused_amount": 0.0,
                        "reference_number": f"TXN-{rng.randint(100000, 999999)}",
                        "description": f"Payment for {number}",
                        "currency_code": currency,
                        "invoices": [
                            {
                                "invoice_id": invoice_id,
                                "invoice_number": number,
                                "date": invoice["date"],
                                "total": figures["total"],
                                "amount_applied": money(paid),
                                "balance_amount": invoice["balance"],
                            }
                        ],
                        "created_time": pay_created,
                        "last_modified_time": pay_modified,
                    }
                )
            invoice_docs.append(invoice)
        store.insert_many(INVOICES, organization_id, invoice_docs)
        store.insert_many(PAYMENTS, organization_id, payment_docs)

        estimate_numbers = _numbers(store, organization_id, ESTIMATES, "EST-", estimates)
        for number, estimate_id in zip(estimate_numbers, store.new_ids(estimates), strict=True):
            customer = rng.choice(customers)
            estimate_day = day0 - timedelta(days=rng.randint(0, 364))
            created, modified = _stamp_pair(rng, estimate_day, now)
            estimate_docs.append(
                {
                    "estimate_id": estimate_id,
                    "estimate_number": number,
                    "customer_id": customer["contact_id"],
                    "customer_name": customer["contact_name"],
                    "reference_number": "",
                    "date": estimate_day.isoformat(),
                    "expiry_date": (estimate_day + timedelta(days=30)).isoformat(),
                    "status": rng.choice(("draft", "sent", "sent", "accepted", "declined")),
                    "currency_code": currency,
                    **amounts(body(customer)),
                    "notes": "",
                    "terms": "Valid for 30 days.",
                    "created_time": created,
                    "last_modified_time": modified,
                }
            )
        store.insert_many(ESTIMATES, organization_id, estimate_docs)

    return SeedResult(
        organization_id=organization_id,
        contacts=len(created_contacts),
        items=len(created_items),
        invoices=len(invoice_docs),
        estimates=len(estimate_docs),
        payments=len(payment_docs),
    )


def _numbers(store: InvoiceStore, org: str, res: Resource, prefix: str, count: int) -> list[str]:
    """``count`` fresh numbers of the organization's sequence, skipping any typed in by hand."""
    kind, column = res.singular, f"{res.singular}_number"
    taken = store.values(res, org, column)
    numbers: list[str] = []
    while len(numbers) < count:
        for number in store.next_numbers(org, kind, count - len(numbers)):
            text = f"{prefix}{number:06d}"
            if text not in taken:
                numbers.append(text)
    return numbers
