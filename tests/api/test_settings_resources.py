"""Unit tests of ``client.taxes``, ``client.currencies``, ``client.contact_persons`` and
``client.users`` over ``httpx.MockTransport``: Zoho's paths and bodies, exact percentages and
rates, answers that wrap one resource in a list, and which calls may be repeated."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from api._fakes import Recorder, async_client, sync_client, zoho
from zoho_invoice import APITimeoutError
from zoho_invoice._http import httpx
from zoho_invoice.api import ZohoInvoice
from zoho_invoice.api.types import ContactPersonParams, TaxParams

TAX = {
    "tax_id": "982000000566009",
    "tax_name": "Sales Group",
    "tax_percentage": 10.5,
    "tax_type": "tax",
}
GROUP = {
    "tax_group_id": "982000000566011",
    "tax_group_name": "GST18",
    "tax_group_percentage": 18,
    "taxes": [
        {"tax_id": "1", "tax_name": "CGST", "tax_percentage": 9, "tax_type": "tax"},
        {"tax_id": "2", "tax_name": "SGST", "tax_percentage": 9, "tax_type": "tax"},
    ],
}
PERSON = {"contact_person_id": 460000000026051, "first_name": "Will", "phone": 1234}


def _calls(recorder: Recorder) -> list[tuple[str, str]]:
    return [(r.method, r.url.path.removeprefix("/invoice/v3")) for r in recorder.requests]


def test_taxes_crud_hits_settings_taxes_with_exact_percentages() -> None:
    recorder = Recorder(
        zoho(taxes=[TAX], page_context={"page": 1, "has_more_page": False}),
        zoho(tax=TAX),
        zoho(201, message="The tax has been added.", tax=TAX),
        zoho(tax=dict(TAX, tax_percentage=12.25)),
        zoho(message="The record has been deleted."),
    )
    with sync_client(recorder) as client:
        page = client.taxes.list()
        assert page.items[0].tax_percentage == Decimal("10.5")
        assert client.taxes.get("982000000566009").tax_name == "Sales Group"
        created = client.taxes.create(TaxParams(tax_name="VAT", tax_percentage=Decimal("20.00")))
        assert created.tax_id == "982000000566009"
        updated = client.taxes.update("982000000566009", tax_percentage=Decimal("12.25"))
        assert updated.tax_percentage == Decimal("12.25")
        client.taxes.delete("982000000566009")
    assert _calls(recorder) == [
        ("GET", "/settings/taxes"),
        ("GET", "/settings/taxes/982000000566009"),
        ("POST", "/settings/taxes"),
        ("PUT", "/settings/taxes/982000000566009"),
        ("DELETE", "/settings/taxes/982000000566009"),
    ]
    assert recorder.bodies()[2] == {"tax_name": "VAT", "tax_percentage": 20.0}


def test_tax_groups_send_their_taxes_as_one_comma_separated_string() -> None:
    recorder = Recorder(
        zoho(201, message="The tax group has been created.", tax_group=GROUP),
        zoho(tax_group=GROUP),
        # Zoho's SDK documents only a message for an update: the client reads the group back.
        zoho(message="Tax Group information has been saved."),
        zoho(tax_group=dict(GROUP, tax_group_name="GST 18")),
        zoho(message="The tax group has been deleted."),
    )
    with sync_client(recorder) as client:
        group = client.taxes.create_group("GST18", ["1", "2"])
        assert group.tax_group_percentage == Decimal("18")
        assert [t.tax_name for t in group.taxes] == ["CGST", "SGST"]
        assert client.taxes.get_group(group.tax_group_id).tax_group_name == "GST18"
        renamed = client.taxes.update_group(group.tax_group_id, name="GST 18", tax_ids=None)
        assert renamed.tax_group_name == "GST 18"
        client.taxes.delete_group(group.tax_group_id)
    assert _calls(recorder) == [
        ("POST", "/settings/taxgroups"),
        ("GET", "/settings/taxgroups/982000000566011"),
        ("PUT", "/settings/taxgroups/982000000566011"),
        ("GET", "/settings/taxgroups/982000000566011"),
        ("DELETE", "/settings/taxgroups/982000000566011"),
    ]
    bodies = recorder.bodies()
    assert bodies[0] == {"tax_group_name": "GST18", "taxes": "1,2"}
    assert bodies[2] == {"tax_group_name": "GST 18"}


def test_tax_and_group_creates_are_never_sent_twice_blindly() -> None:
    creates: tuple[Callable[[ZohoInvoice], object], ...] = (
        lambda c: c.taxes.create(tax_name="VAT", tax_percentage=20),
        lambda c: c.taxes.create_group("G", ["1", "2"]),
        lambda c: c.contact_persons.create("7", first_name="Will"),
    )
    for create in creates:
        recorder = Recorder(httpx.ReadTimeout("lost"))
        with sync_client(recorder) as client, pytest.raises(APITimeoutError):
            create(client)
        assert len(recorder.requests) == 1


def test_currencies_list_and_get_with_exact_rates_and_a_list_wrapped_answer() -> None:
    currency = {
        "currency_id": "982000000004012",
        "currency_code": "AUD",
        "price_precision": 2,
        "is_base_currency": False,
        "exchange_rate": 0.7312,
        "effective_date": "2016-06-05",
    }
    recorder = Recorder(
        zoho(currencies=[currency], page_context={"page": 1, "has_more_page": False}),
        # The currency page of Zoho's docs shows one currency wrapped in a list.
        zoho(currency=[currency]),
    )
    with sync_client(recorder) as client:
        page = client.currencies.list(filter_by="Currencies.ExcludeBaseCurrency")
        assert page.items[0].exchange_rate == Decimal("0.7312")
        got = client.currencies.get("982000000004012")
        assert got.currency_code == "AUD" and got.effective_date is not None
    assert _calls(recorder) == [
        ("GET", "/settings/currencies"),
        ("GET", "/settings/currencies/982000000004012"),
    ]
    assert recorder.requests[0].url.params["filter_by"] == "Currencies.ExcludeBaseCurrency"


def test_contact_persons_use_zohos_two_path_families() -> None:
    recorder = Recorder(
        zoho(contact_persons=[PERSON], page_context={"page": 1, "has_more_page": False}),
        zoho(contact_person=PERSON),
        zoho(message="The contactperson has been Created", contact_person=[PERSON]),
        zoho(contact_person=PERSON),
        zoho(message="The contact person has been deleted."),
        zoho(message="This contact person has been marked as your primary contact person."),
    )
    with sync_client(recorder) as client:
        listed = client.contact_persons.list("460000000026049")
        assert listed.items[0].contact_person_id == "460000000026051"
        assert listed.items[0].phone == "1234"
        client.contact_persons.get("460000000026049", "460000000026051")
        created = client.contact_persons.create(
            "460000000026049", ContactPersonParams(first_name="Will", email="w@bowman.test")
        )
        assert created.first_name == "Will"
        client.contact_persons.update("460000000026051", last_name="Smith")
        client.contact_persons.delete("460000000026051")
        client.contact_persons.mark_primary("460000000026051")
    assert _calls(recorder) == [
        ("GET", "/contacts/460000000026049/contactpersons"),
        ("GET", "/contacts/460000000026049/contactpersons/460000000026051"),
        ("POST", "/contacts/contactpersons"),
        ("PUT", "/contacts/contactpersons/460000000026051"),
        ("DELETE", "/contacts/contactpersons/460000000026051"),
        ("POST", "/contacts/contactpersons/460000000026051/primary"),
    ]
    bodies = recorder.bodies()
    assert bodies[2] == {
        "first_name": "Will",
        "email": "w@bowman.test",
        "contact_id": "460000000026049",
    }
    assert bodies[3] == {"last_name": "Smith"}


def test_mark_primary_is_repeated_after_a_lost_answer() -> None:
    recorder = Recorder(httpx.ReadTimeout("lost"), zoho(message="marked"))
    with sync_client(recorder) as client:
        client.contact_persons.mark_primary("5")
    assert len(recorder.requests) == 2


def test_users_list_and_get() -> None:
    user = {"user_id": "700001001", "name": "Alice", "email": "alice@acme.example"}
    recorder = Recorder(
        zoho(users=[user], page_context={"page": 1, "has_more_page": False}), zoho(user=user)
    )
    with sync_client(recorder) as client:
        assert client.users.list(filter_by="Status.Active").items[0].name == "Alice"
        assert client.users.get("700001001").email == "alice@acme.example"
    assert _calls(recorder) == [("GET", "/users"), ("GET", "/users/700001001")]


@pytest.mark.anyio
async def test_async_twins() -> None:
    recorder = Recorder(
        zoho(taxes=[TAX], page_context={"page": 1, "has_more_page": False}),
        zoho(tax_group=GROUP),
        zoho(currency={"currency_id": "3", "currency_code": "EUR"}),
        zoho(contact_persons=[PERSON], page_context={"page": 1, "has_more_page": False}),
        zoho(contact_person=PERSON),
        zoho(users=[], page_context={"page": 1, "has_more_page": False}),
    )
    async with async_client(recorder) as client:
        assert [t.tax_id async for t in client.taxes.iter_all()] == ["982000000566009"]
        assert (await client.taxes.get_group("9")).tax_group_name == "GST18"
        assert (await client.currencies.get("3")).currency_code == "EUR"
        assert len(await client.contact_persons.list("7")) == 1
        await client.contact_persons.create("7", first_name="Will")
        assert len(await client.users.list()) == 0
    assert _calls(recorder) == [
        ("GET", "/settings/taxes"),
        ("GET", "/settings/taxgroups/9"),
        ("GET", "/settings/currencies/3"),
        ("GET", "/contacts/7/contactpersons"),
        ("POST", "/contacts/contactpersons"),
        ("GET", "/users"),
    ]


def test_list_groups_reads_both_readings_across_pages() -> None:
    inline = dict(TAX, tax_id="5", tax_name="GST18", tax_percentage=18, tax_type="tax_group")
    recorder = Recorder(
        zoho(taxes=[TAX, inline], page_context={"page": 1, "has_more_page": True}),
        zoho(
            taxes=[TAX],
            tax_groups=[GROUP],
            page_context={"page": 2, "has_more_page": False},
        ),
    )
    with sync_client(recorder) as client:
        groups = client.taxes.list_groups()
    assert [(g.tax_group_id, g.tax_group_name, g.tax_group_percentage) for g in groups] == [
        ("5", "GST18", Decimal("18")),
        ("982000000566011", "GST18", Decimal("18")),
    ]
    assert groups[1].taxes[0].tax_name == "CGST"
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2"]
