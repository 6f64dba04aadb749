"""Unit tests of the sandbox's tax arithmetic (``_amounts.compute`` with an organization's taxes),
its per-organization tax setup and currencies (``_settings.OrgSettings``) and its contact
persons (``_contact_persons``), on an in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from zoho_invoice_sandbox.invoice._amounts import LineTax, TaxPart, compute
from zoho_invoice_sandbox.invoice._contact_persons import (
    ContactPersons,
    invoice_persons,
    invoice_recipients,
    sync_contact_persons,
)
from zoho_invoice_sandbox.invoice._errors import ZohoAPIFailure
from zoho_invoice_sandbox.invoice._resources import CONTACTS, TAXES
from zoho_invoice_sandbox.invoice._settings import OrgSettings, TaxRules, rules_for, set_rules
from zoho_invoice_sandbox.invoice._store import InvoiceStore

GST = LineTax(
    "9",
    "GST18",
    "tax_group",
    (TaxPart("1", "CGST9", Decimal("9")), TaxPart("2", "SGST9", Decimal("9"))),
)
STATE_AND_SURCHARGE = LineTax(
    "8",
    "State + surcharge",
    "tax_group",
    (TaxPart("3", "State", Decimal("6.25")), TaxPart("4", "Surcharge", Decimal("1"), True)),
)


def totals(body: dict[str, Any], **options: Any) -> dict[str, Any]:
    counter = iter(range(100))
    taxes = {t.tax_id: t for t in (GST, STATE_AND_SURCHARGE)}
    return compute(
        body,
        lookup_item=lambda item_id: (
            {"name": "Chair", "rate": 50, "tax_id": "9"} if item_id == "77" else None
        ),
        new_line_id=lambda: str(next(counter)),
        lookup_tax=taxes.get,
        **options,
    )


def test_a_group_charges_each_member_and_lists_each_once() -> None:
    result = totals(
        {
            "line_items": [
                {"name": "A", "rate": 1000, "quantity": 3, "tax_id": "9"},
                {"name": "B", "rate": 100, "tax_id": "9"},
            ],
            "discount": "10%",
        }
    )
    # The 10% document discount is spread over the lines before tax (Zoho's default).
    assert result["taxes"] == [
        {"tax_id": "1", "tax_name": "CGST9", "tax_amount": 251.1},
        {"tax_id": "2", "tax_name": "SGST9", "tax_amount": 251.1},
    ]
    assert result["line_items"][0]["tax_percentage"] == 18.0
    assert result["total"] == 3100 - 310 + 502.2


def test_a_compound_member_is_charged_on_the_line_plus_the_other_taxes() -> None:
    result = totals({"line_items": [{"name": "Watch", "rate": 100, "tax_id": "8"}]})
    assert [t["tax_amount"] for t in result["taxes"]] == [6.25, 1.06]
    assert result["line_items"][0]["tax_percentage"] == 7.3125
    assert STATE_AND_SURCHARGE.percentage == Decimal("7.3125")


def test_a_line_takes_its_items_tax_unless_it_names_another_or_none() -> None:
    from_item = totals({"line_items": [{"item_id": "77"}]})
    assert from_item["line_items"][0]["tax_id"] == "9" and from_item["tax_total"] == 9.0
    overridden = totals({"line_items": [{"item_id": "77", "tax_id": ""}]})
    assert overridden["tax_total"] == 0 and "tax_id" not in overridden["line_items"][0]


def test_a_required_tax_refuses_an_untaxed_line_but_takes_an_exemption() -> None:
    with pytest.raises(ZohoAPIFailure) as caught:
        totals({"line_items": [{"name": "A", "rate": 1}]}, tax_required=True)
    assert (caught.value.code, caught.value.message) == (2, "Invalid value passed for tax_id")
    exempt = {"name": "A", "rate": 1, "tax_exemption_id": "5"}
    assert totals({"line_items": [exempt]}, tax_required=True)["total"] == 1.0
    for bad in ("404", True, ["9"]):
        with pytest.raises(ZohoAPIFailure):
            totals({"line_items": [{"name": "A", "rate": 1, "tax_id": bad}]})


@pytest.fixture
def store() -> Iterator[InvoiceStore]:
    store = InvoiceStore(None)
    yield store
    store.close()


def test_presets_are_given_once_per_organization(store: InvoiceStore) -> None:
    uk = OrgSettings(store, "1", "GBP", "2026-09-20")
    assert uk.registered and uk.line_tax_required()
    uk.ensure()
    uk.ensure()
    assert store.count(TAXES, "1") == 3
    india = OrgSettings(store, "2", "INR", "2026-09-20")
    taxes, more, groups = india.taxes(1, 200)
    assert not more and groups is None
    assert {t["tax_name"] for t in taxes if t["tax_type"] == "tax_group"} == {"GST18", "GST5"}
    us = OrgSettings(store, "3", "USD", "2026-09-20")
    assert not us.registered and not us.line_tax_required()

    set_rules(store, rules_for(store).updated({"line_tax": "always", "group_listing": "separate"}))
    assert us.line_tax_required()
    taxes, _, groups = india.taxes(1, 200)
    assert groups is not None and {g["tax_group_name"] for g in groups} == {"GST18", "GST5"}
    assert all(t["tax_type"] != "tax_group" for t in taxes)
    with pytest.raises(ValueError):
        TaxRules().updated({"line_tax": "maybe"})


def test_group_rules_and_what_a_line_tax_id_names(store: InvoiceStore) -> None:
    us = OrgSettings(store, "3", "USD", "2026-09-20")
    taxes, _, _ = us.taxes(1, 200)
    by_name = {t["tax_name"]: t["tax_id"] for t in taxes}
    state, city, surcharge = (
        by_name["State Sales Tax"],
        by_name["City Tax"],
        by_name["Luxury Surcharge"],
    )
    second = us.save_tax(
        {"tax_name": "Second surcharge", "tax_percentage": 2, "tax_type": "compound_tax"}
    )
    for members in ([state], [state, state], [state, surcharge, second["tax_id"]], [state, "1"]):
        with pytest.raises(ZohoAPIFailure):
            us.save_group({"tax_group_name": "G", "taxes": members})
    group = us.save_group({"tax_group_name": "G", "taxes": f"{state},{city},{surcharge}"})
    line = us.line_tax(group["tax_group_id"])
    assert line is not None
    assert [(p.tax_name, p.compound) for p in line.parts] == [
        ("State Sales Tax", False),
        ("City Tax", False),
        ("Luxury Surcharge", True),
    ]
    assert us.line_tax("4600000000000000999") is None
    with pytest.raises(ZohoAPIFailure) as caught:
        us.delete_tax(city)
    assert caught.value.status_code == 400


def test_currencies_and_a_contacts_currency(store: InvoiceStore) -> None:
    euro_org = OrgSettings(store, "5", "EUR", "2026-09-20")
    listed, _ = euro_org.currencies(1, 200, exclude_base=False)
    rates = {c["currency_code"]: (c["is_base_currency"], c["exchange_rate"]) for c in listed}
    assert rates["EUR"] == (True, 1.0)
    assert rates["GBP"][0] is False and rates["GBP"][1] > 1
    pound = next(c for c in listed if c["currency_code"] == "GBP")
    assert euro_org.contact_currency({"currency_id": pound["currency_id"]}) == {
        "currency_id": pound["currency_id"],
        "currency_code": "GBP",
    }
    assert euro_org.contact_currency({})["currency_code"] == "EUR"
    with pytest.raises(ZohoAPIFailure) as caught:
        euro_org.contact_currency({"currency_id": "999"})
    assert (caught.value.code, caught.value.status_code) == (9004, 400)


def test_persons_keep_one_primary_and_invoices_reach_them(store: InvoiceStore) -> None:
    store.insert(
        CONTACTS, "7", {"contact_id": "100", "contact_name": "Bowman", "email": "b@x.test"}
    )
    persons = sync_contact_persons(
        store,
        "7",
        "100",
        [
            {"first_name": "Will", "email": "will@x.test"},
            {"first_name": "Ann", "email": "ann@x.test"},
        ],
    )
    assert [p["is_primary_contact"] for p in persons] == [True, False]
    book = ContactPersons(store, "7")
    ann = persons[1]["contact_person_id"]
    book.mark_primary(ann)
    contact = store.get(CONTACTS, "7", "100")
    assert contact is not None
    assert [p["first_name"] for p in contact["contact_persons"] if p["is_primary_contact"]] == [
        "Ann"
    ]
    assert invoice_persons(store, "7", contact, {}) == [ann]
    invoice = {"contact_persons": invoice_persons(store, "7", contact, {}), "email": "b@x.test"}
    assert invoice_recipients(store, "7", invoice) == ["ann@x.test"]
    assert invoice_recipients(store, "7", {"contact_persons": [], "email": "b@x.test"}) == [
        "b@x.test"
    ]
    # A contact saved with a new list keeps the persons named by id and drops the others.
    kept = sync_contact_persons(
        store, "7", "100", [{"contact_person_id": ann, "first_name": "Ann"}]
    )
    assert [(p["first_name"], p["is_primary_contact"]) for p in kept] == [("Ann", True)]
    with pytest.raises(ZohoAPIFailure):
        book.get("100", persons[0]["contact_person_id"])
