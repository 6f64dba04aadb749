"""Unit tests: custom fields typed on invoices, estimates, contacts and items, in every shape
Zoho's pages and real answers show (docs/zoho/sandbox-rules.md), nothing lost, numbers exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zoho_invoice.api.types import (
    Contact,
    CustomField,
    CustomFieldParams,
    Estimate,
    HasCustomFields,
    Invoice,
    InvoiceParams,
    Item,
    ItemParams,
)


def test_invoice_fields_as_zohos_invoice_page_shows_them() -> None:
    invoice = Invoice.model_validate(
        {
            "invoice_id": 982000000567114,
            "custom_fields": [{"customfield_id": "46000000012845", "value": "Normal"}],
        }
    )
    (field,) = invoice.custom_fields
    assert isinstance(field, CustomField)
    assert (field.customfield_id, field.value) == ("46000000012845", "Normal")
    assert invoice.custom_field("46000000012845") is field
    assert invoice.custom_field("nope") is None
    assert invoice.custom_field_hash == {}


def test_contact_fields_as_zohos_contact_page_shows_them() -> None:
    contact = Contact.model_validate(
        {
            "contact_id": "460000000026049",
            "custom_fields": [{"value": "GBGD078", "index": 1, "label": "VAT ID"}],
        }
    )
    field = contact.custom_field("vat id")
    assert field is not None
    assert (field.index, field.label, field.value) == (1, "VAT ID", "GBGD078")


@pytest.mark.parametrize(
    ("model", "key"), [(Item, "item_id"), (Estimate, "estimate_id"), (Invoice, "invoice_id")]
)
def test_real_answers_keep_every_key_and_exact_numbers(
    model: type[HasCustomFields], key: str
) -> None:
    record = model.model_validate(
        {
            key: "1",
            "custom_fields": [
                {
                    "customfield_id": 46000000012847,
                    "index": 2,
                    "label": "Hours",
                    "api_name": "cf_hours",
                    "data_type": "decimal",
                    "value": 12.1,
                    "value_formatted": "12.10",
                    "is_active": True,
                    "show_on_pdf": False,
                }
            ],
            "custom_field_hash": {"cf_hours": "12.10", "cf_hours_unformatted": 12.1},
        }
    )
    field = record.custom_field("cf_hours")
    assert field is not None
    assert field.customfield_id == "46000000012847"
    assert field.value == Decimal("12.1") and isinstance(field.value, Decimal)
    assert field.value_formatted == "12.10"
    assert field.model_extra == {"is_active": True, "show_on_pdf": False}
    assert record.custom_field_hash["cf_hours_unformatted"] == Decimal("12.1")
    again = record.model_dump(mode="json")
    assert again["custom_fields"][0]["is_active"] is True


def test_params_send_custom_fields_by_any_name() -> None:
    body = InvoiceParams(
        customer_id="1",
        custom_fields=[
            CustomFieldParams(label="PO Ref", value="A-1"),
            CustomFieldParams(customfield_id="46000000012845", value="Normal"),
        ],
    ).to_body()
    assert body["custom_fields"] == [
        {"label": "PO Ref", "value": "A-1"},
        {"customfield_id": "46000000012845", "value": "Normal"},
    ]
    item = ItemParams(name="Disk", custom_fields=[{"api_name": "cf_bin", "value": 7}]).to_body()
    assert item["custom_fields"] == [{"api_name": "cf_bin", "value": 7}]
