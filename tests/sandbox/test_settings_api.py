"""Integration tests of the Invoice API simulator's taxes, tax groups, currencies, contact persons
and users, in process (``TestClient``): the edition's preset taxes, the tax a VAT or GST
organization wants on every line (and the ``line_tax`` setting), amounts from a line's tax or
tax group, a contact's currency, who an invoice is e-mailed to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import FULL_ACCESS, alice_headers, mint
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import create_invoice_app

US = "/us/invoice/v3"
UK = "/uk/invoice/v3"
IN = "/in/invoice/v3"


@pytest.fixture
def world() -> Iterator[SandboxWorld]:
    world = SandboxWorld(base_url="http://sandbox.test", clock=lambda: 1_790_000_000.0)
    yield world
    world.close()


@pytest.fixture
def client(world: SandboxWorld) -> Iterator[TestClient]:
    with TestClient(create_invoice_app(world)) as client:
        yield client


def headers_of(world: SandboxWorld, email: str) -> dict[str, str]:
    user = world.directory.user_by_email(email)
    assert user is not None
    return {
        "Authorization": f"Zoho-oauthtoken {mint(world, email, FULL_ACCESS)}",
        "X-com-zoho-invoice-organizationid": user.organization_ids[0],
    }


@pytest.fixture
def us(world: SandboxWorld) -> dict[str, str]:
    return alice_headers(world)


@pytest.fixture
def uk(world: SandboxWorld) -> dict[str, str]:
    return headers_of(world, "oliver@owen.example")


@pytest.fixture
def india(world: SandboxWorld) -> dict[str, str]:
    return headers_of(world, "ishaan@indigo.example")


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == 0, body
    return dict(body)


def taxes_by_name(client: TestClient, base: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = ok(client.get(f"{base}/settings/taxes", headers=headers))
    return {tax["tax_name"]: tax for tax in answer["taxes"]}


def customer(client: TestClient, base: str, headers: dict[str, str], **body: Any) -> str:
    body.setdefault("contact_name", "Bowman & Co")
    return str(
        ok(client.post(f"{base}/contacts", headers=headers, json=body), 201)["contact"][
            "contact_id"
        ]
    )


def test_a_uk_organization_starts_with_the_uk_editions_vat_rates(
    client: TestClient, uk: dict[str, str]
) -> None:
    taxes = taxes_by_name(client, UK, uk)
    assert {name: t["tax_percentage"] for name, t in taxes.items()} == {
        "Reduced Rate": 5.0,
        "Standard Rate": 20.0,
        "Zero Rate": 0.0,
    }
    assert all(t["tax_type"] == "tax" and t["is_value_added"] for t in taxes.values())
    one = taxes["Standard Rate"]
    assert ok(client.get(f"{UK}/settings/taxes/{one['tax_id']}", headers=uk))["tax"] == one


def test_a_vat_organization_refuses_an_untaxed_line_and_charges_the_named_tax(
    client: TestClient, uk: dict[str, str]
) -> None:
    contact = customer(client, UK, uk)
    untaxed = {"customer_id": contact, "line_items": [{"name": "Desk", "rate": 250, "quantity": 2}]}
    answer = client.post(f"{UK}/invoices", headers=uk, json=untaxed)
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": "Invalid value passed for tax_id"}

    vat = taxes_by_name(client, UK, uk)["Standard Rate"]
    taxed = {
        "customer_id": contact,
        "line_items": [
            {"name": "Desk", "rate": 250, "quantity": 2, "tax_id": vat["tax_id"]},
            {"name": "Exempt service", "rate": 40, "tax_exemption_id": "982000000000001"},
        ],
    }
    invoice = ok(client.post(f"{UK}/invoices", headers=uk, json=taxed), 201)["invoice"]
    line = invoice["line_items"][0]
    assert (line["tax_id"], line["tax_name"], line["tax_percentage"]) == (
        vat["tax_id"],
        "Standard Rate",
        20.0,
    )
    assert invoice["taxes"] == [
        {"tax_id": vat["tax_id"], "tax_name": "Standard Rate", "tax_amount": 100.0}
    ]
    assert (invoice["sub_total"], invoice["tax_total"], invoice["total"]) == (540.0, 100.0, 640.0)
    assert invoice["currency_code"] == "GBP"

    unknown = dict(taxed, line_items=[{"name": "Desk", "rate": 1, "tax_id": "4600000000000000001"}])
    assert client.post(f"{UK}/invoices", headers=uk, json=unknown).json()["code"] == 2


def test_line_tax_setting_plays_each_reading(
    client: TestClient, uk: dict[str, str], us: dict[str, str]
) -> None:
    assert client.get("/_sandbox/taxes").json() == {
        "line_tax": "registered",
        "group_listing": "inline",
    }
    us_contact, uk_contact = customer(client, US, us), customer(client, UK, uk)
    line = {"line_items": [{"name": "Work", "rate": 10}]}
    # A sales-tax organization takes an untaxed line by default.
    ok(client.post(f"{US}/invoices", headers=us, json={"customer_id": us_contact, **line}), 201)

    assert client.put("/_sandbox/taxes", json={"line_tax": "never"}).json()["line_tax"] == "never"
    ok(client.post(f"{UK}/invoices", headers=uk, json={"customer_id": uk_contact, **line}), 201)

    client.put("/_sandbox/taxes", json={"line_tax": "always"})
    refused = client.post(f"{US}/invoices", headers=us, json={"customer_id": us_contact, **line})
    assert refused.json()["code"] == 2 and "tax_id" in refused.json()["message"]

    for bad in ({"line_tax": "sometimes"}, {"other": 1}, ["x"]):
        assert client.put("/_sandbox/taxes", json=bad).status_code == 400
    assert client.get("/_sandbox/taxes").json()["line_tax"] == "always"


def test_gst_group_charges_cgst_and_sgst_each_on_the_line(
    client: TestClient, india: dict[str, str]
) -> None:
    taxes = taxes_by_name(client, IN, india)
    group = taxes["GST18"]
    assert group["tax_type"] == "tax_group" and group["tax_percentage"] == 18.0
    detail = ok(client.get(f"{IN}/settings/taxgroups/{group['tax_id']}", headers=india))
    assert [(t["tax_name"], t["tax_percentage"]) for t in detail["tax_group"]["taxes"]] == [
        ("CGST9", 9.0),
        ("SGST9", 9.0),
    ]
    assert taxes["CGST9"]["tax_specific_type"] == "cgst"
    body = {
        "customer_id": customer(client, IN, india),
        "line_items": [{"name": "Chairs", "rate": 1000, "quantity": 3, "tax_id": group["tax_id"]}],
    }
    invoice = ok(client.post(f"{IN}/invoices", headers=india, json=body), 201)["invoice"]
    assert invoice["line_items"][0]["tax_type"] == "tax_group"
    assert [(t["tax_name"], t["tax_amount"]) for t in invoice["taxes"]] == [
        ("CGST9", 270.0),
        ("SGST9", 270.0),
    ]
    assert (invoice["tax_total"], invoice["total"]) == (540.0, 3540.0)


def test_compound_tax_in_a_group_is_charged_on_top_of_the_others(
    client: TestClient, us: dict[str, str]
) -> None:
    taxes = taxes_by_name(client, US, us)
    created = client.post(
        f"{US}/settings/taxgroups",
        headers=us,
        json={
            "tax_group_name": "State + surcharge",
            "taxes": f"{taxes['State Sales Tax']['tax_id']},{taxes['Luxury Surcharge']['tax_id']}",
        },
    )
    group = ok(created, 201)["tax_group"]
    assert group["tax_group_percentage"] == 7.25
    body = {
        "customer_id": customer(client, US, us),
        "line_items": [{"name": "Watch", "rate": 100, "tax_id": group["tax_group_id"]}],
    }
    invoice = ok(client.post(f"{US}/invoices", headers=us, json=body), 201)["invoice"]
    # 6.25% of 100, then 1% of 106.25 (the line and the simple tax).
    assert [t["tax_amount"] for t in invoice["taxes"]] == [6.25, 1.06]
    assert invoice["total"] == 107.31
    assert invoice["line_items"][0]["tax_percentage"] == 7.3125


def test_tax_and_group_lifecycle_with_zohos_rules(client: TestClient, us: dict[str, str]) -> None:
    vat = ok(
        client.post(
            f"{US}/settings/taxes",
            headers=us,
            json={"tax_name": "Export duty", "tax_percentage": 4.5, "tax_type": "tax"},
        ),
        201,
    )["tax"]
    assert (vat["tax_percentage"], vat["tax_type"]) == (4.5, "tax")
    city = taxes_by_name(client, US, us)["City Tax"]
    group = ok(
        client.post(
            f"{US}/settings/taxgroups",
            headers=us,
            json={"tax_group_name": "Duty + city", "taxes": [vat["tax_id"], city["tax_id"]]},
        ),
        201,
    )["tax_group"]
    # Changing a member's rate changes the group's.
    ok(client.put(f"{US}/settings/taxes/{vat['tax_id']}", headers=us, json={"tax_percentage": 5}))
    again = ok(client.get(f"{US}/settings/taxgroups/{group['tax_group_id']}", headers=us))
    assert again["tax_group"]["tax_group_percentage"] == 7.5
    refused = client.delete(f"{US}/settings/taxes/{vat['tax_id']}", headers=us)
    assert refused.status_code == 400
    renamed = client.put(
        f"{US}/settings/taxgroups/{group['tax_group_id']}",
        headers=us,
        json={"tax_group_name": "Duty and city"},
    )
    assert ok(renamed)["tax_group"]["tax_group_name"] == "Duty and city"
    ok(client.delete(f"{US}/settings/taxgroups/{group['tax_group_id']}", headers=us))
    ok(client.delete(f"{US}/settings/taxes/{vat['tax_id']}", headers=us))
    gone = client.get(f"{US}/settings/taxes/{vat['tax_id']}", headers=us)
    assert (gone.status_code, gone.json()["code"]) == (404, 1002)

    for body in (
        {"tax_group_name": "One", "taxes": city["tax_id"]},  # a group needs two taxes
        {"tax_group_name": "Dup", "taxes": f"{city['tax_id']},{city['tax_id']}"},
        {"tax_group_name": "Unknown", "taxes": f"{city['tax_id']},4600000000000000009"},
    ):
        assert client.post(f"{US}/settings/taxgroups", headers=us, json=body).status_code == 400
    for body in (
        {"tax_name": "No rate"},
        {"tax_name": "Too much", "tax_percentage": 101},
        {"tax_name": "Odd type", "tax_percentage": 1, "tax_type": "tax_group"},
        {"tax_percentage": 1},
    ):
        assert client.post(f"{US}/settings/taxes", headers=us, json=body).status_code == 400


def test_currencies_and_a_contact_billed_in_one(client: TestClient, uk: dict[str, str]) -> None:
    listed = ok(client.get(f"{UK}/settings/currencies", headers=uk))["currencies"]
    by_code = {c["currency_code"]: c for c in listed}
    assert by_code["GBP"]["is_base_currency"] and by_code["GBP"]["exchange_rate"] == 1.0
    euro = by_code["EUR"]
    assert not euro["is_base_currency"] and 0 < euro["exchange_rate"] < 1
    others = ok(
        client.get(
            f"{UK}/settings/currencies",
            headers=uk,
            params={"filter_by": "Currencies.ExcludeBaseCurrency"},
        )
    )["currencies"]
    assert "GBP" not in {c["currency_code"] for c in others}
    got = ok(client.get(f"{UK}/settings/currencies/{euro['currency_id']}", headers=uk))
    assert got["currency"] == euro

    contact_id = customer(client, UK, uk, currency_id=euro["currency_id"])
    contact = ok(client.get(f"{UK}/contacts/{contact_id}", headers=uk))["contact"]
    assert (contact["currency_id"], contact["currency_code"]) == (euro["currency_id"], "EUR")
    vat = taxes_by_name(client, UK, uk)["Zero Rate"]
    body = {
        "customer_id": contact_id,
        "line_items": [{"name": "Export", "rate": 10, "tax_id": vat["tax_id"]}],
    }
    invoice = ok(client.post(f"{UK}/invoices", headers=uk, json=body), 201)["invoice"]
    assert (invoice["currency_code"], invoice["currency_id"]) == ("EUR", euro["currency_id"])
    assert invoice["exchange_rate"] == euro["exchange_rate"]

    unknown = client.post(
        f"{UK}/contacts",
        headers=uk,
        json={"contact_name": "X", "currency_id": "4600000000000000009"},
    )
    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": 9004,
        "message": "This currency does not exist. Please choose a valid currency",
    }


def test_contact_persons_lifecycle(client: TestClient, us: dict[str, str]) -> None:
    contact_id = customer(
        client,
        US,
        us,
        contact_persons=[
            {"first_name": "Will", "email": "will@bowman.test"},
            {"first_name": "Peter", "email": "peter@bowman.test"},
        ],
    )
    contact = ok(client.get(f"{US}/contacts/{contact_id}", headers=us))["contact"]
    will, peter = contact["contact_persons"]
    assert will["is_primary_contact"] and not peter["is_primary_contact"]
    assert will["contact_person_id"].isdigit() and will["contact_id"] == contact_id

    listed = ok(client.get(f"{US}/contacts/{contact_id}/contactpersons", headers=us))
    assert [p["first_name"] for p in listed["contact_persons"]] == ["Will", "Peter"]
    assert listed["page_context"]["has_more_page"] is False

    mary = ok(
        client.post(
            f"{US}/contacts/contactpersons",
            headers=us,
            json={"contact_id": contact_id, "first_name": "Mary", "email": "mary@bowman.test"},
        ),
        201,
    )["contact_person"]
    path = f"{US}/contacts/contactpersons/{mary['contact_person_id']}"
    ok(client.post(f"{path}/primary", headers=us))
    shown = ok(client.get(f"{US}/contacts/{contact_id}", headers=us))["contact"]["contact_persons"]
    assert [p["first_name"] for p in shown if p["is_primary_contact"]] == ["Mary"]

    updated = ok(client.put(path, headers=us, json={"designation": "Buyer"}))["contact_person"]
    assert (updated["designation"], updated["first_name"]) == ("Buyer", "Mary")
    got = client.get(
        f"{US}/contacts/{contact_id}/contactpersons/{mary['contact_person_id']}", headers=us
    )
    assert ok(got)["contact_person"]["designation"] == "Buyer"

    ok(client.delete(path, headers=us))
    gone = client.delete(path, headers=us)
    assert (gone.status_code, gone.json()["code"]) == (404, 1002)
    other = customer(client, US, us, contact_name="Other Co")
    stranger = client.get(
        f"{US}/contacts/{other}/contactpersons/{will['contact_person_id']}", headers=us
    )
    assert stranger.status_code == 404
    nameless = client.post(
        f"{US}/contacts/contactpersons",
        headers=us,
        json={"contact_id": contact_id, "email": "x@y.z"},
    )
    assert nameless.json() == {"code": 2, "message": "Invalid value passed for first_name"}
    nowhere = client.post(
        f"{US}/contacts/contactpersons",
        headers=us,
        json={"contact_id": "4600000000000000009", "first_name": "Ann"},
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, 1002)


def test_invoice_mail_goes_to_the_primary_person_or_the_chosen_ones(
    client: TestClient, world: SandboxWorld, us: dict[str, str]
) -> None:
    contact_id = customer(
        client,
        US,
        us,
        email="accounts@bowman.test",
        contact_persons=[
            {"first_name": "Will", "email": "will@bowman.test"},
            {"first_name": "Peter", "email": "peter@bowman.test", "is_primary_contact": True},
        ],
    )
    persons = ok(client.get(f"{US}/contacts/{contact_id}/contactpersons", headers=us))
    will = persons["contact_persons"][0]["contact_person_id"]
    line = [{"name": "Work", "rate": 10}]
    default = ok(
        client.post(
            f"{US}/invoices", headers=us, json={"customer_id": contact_id, "line_items": line}
        ),
        201,
    )["invoice"]
    chosen = ok(
        client.post(
            f"{US}/invoices",
            headers=us,
            json={"customer_id": contact_id, "line_items": line, "contact_persons": [will]},
        ),
        201,
    )["invoice"]
    for invoice in (default, chosen):
        ok(client.post(f"{US}/invoices/{invoice['invoice_id']}/email", headers=us, json={}))
    org = us["X-com-zoho-invoice-organizationid"]
    mails = client.get("/_sandbox/emails", params={"organization_id": org}).json()["emails"]
    assert [m["to_mail_ids"] for m in mails] == [["peter@bowman.test"], ["will@bowman.test"]]

    stranger = client.post(
        f"{US}/invoices",
        headers=us,
        json={"customer_id": contact_id, "line_items": line, "contact_persons": ["123"]},
    )
    assert stranger.json() == {"code": 2, "message": "Invalid value passed for contact_persons"}


def test_users_of_the_organization(
    client: TestClient, world: SandboxWorld, us: dict[str, str]
) -> None:
    listed = ok(client.get(f"{US}/users", headers=us))["users"]
    alice = world.directory.user_by_email("alice@acme.example")
    assert alice is not None
    assert [(u["user_id"], u["is_current_user"], u["user_role"]) for u in listed] == [
        (alice.user_id, True, "admin")
    ]
    assert ok(client.get(f"{US}/users/{alice.user_id}", headers=us))["user"]["email"] == alice.email
    assert ok(client.get(f"{US}/users/me", headers=us))["user"]["user_id"] == alice.user_id
    bob = world.directory.user_by_email("bob@bluebird.example")
    assert bob is not None
    assert client.get(f"{US}/users/{bob.user_id}", headers=us).json()["code"] == 1002
