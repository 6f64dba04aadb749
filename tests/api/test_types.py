"""Unit tests of the response models: exact money, dates, big ids, Zoho timestamps, extras."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from zoho_invoice.api.types import (
    Contact,
    CustomerPayment,
    Invoice,
    InvoiceParams,
    LineItem,
    LineItemParams,
)


def test_invoice_parsing() -> None:
    invoice = Invoice.model_validate(
        {
            "invoice_id": 98200000056711412,  # over 2**53, as a JSON number
            "customer_id": "460000000026049",
            "total": 0.1,
            "balance": "1234567890.05",
            "date": "2024-05-01",
            "due_date": "",
            "created_time": "2016-06-11T17:38:06-0700",
            "line_items": [{"line_item_id": 1, "rate": 19.99, "quantity": 3}],
            "custom_fields": [{"label": "PO", "value": "77"}],
            "zcrm_potential_id": "x",
        }
    )
    assert invoice.invoice_id == "98200000056711412"
    assert invoice.total == Decimal("0.1")
    assert invoice.balance == Decimal("1234567890.05")
    assert invoice.date == date(2024, 5, 1)
    assert invoice.due_date is None
    assert invoice.created_time is not None
    assert invoice.created_time.utcoffset() == -timedelta(hours=7)
    assert invoice.line_items[0].rate == Decimal("19.99")
    assert invoice.line_items[0].line_item_id == "1"
    # Unknown fields are kept, not dropped.
    assert invoice.model_extra is not None
    assert invoice.model_extra["zcrm_potential_id"] == "x"
    # Custom fields are typed (CustomField), their unknown keys kept too.
    assert [(f.label, f.value) for f in invoice.custom_fields] == [("PO", "77")]


def test_contact_and_payment() -> None:
    contact = Contact.model_validate({"contact_id": "1", "outstanding_receivable_amount": ""})
    assert contact.outstanding_receivable_amount is None
    payment = CustomerPayment.model_validate(
        {"payment_id": "9", "amount": 10, "invoices": [{"invoice_id": 5, "amount_applied": 2.5}]}
    )
    assert payment.invoices[0].invoice_id == "5"
    assert payment.invoices[0].amount_applied == Decimal("2.5")


def test_params_keep_extra_fields() -> None:
    params = InvoiceParams(customer_id="1", payment_terms=15)
    assert params.to_body() == {"customer_id": "1", "payment_terms": 15}


def test_every_amount_is_decimal_declared_or_not() -> None:
    invoice = Invoice.model_validate_json(
        b'{"invoice_id": "1", "sub_total": 0.1, "tax_total": 0.2, "payment_made": 10.05,'
        b' "discount_total": 1.1, "shipping_charge": 2.3, "adjustment": -0.07, "total": 0.3,'
        b' "line_items": [{"discount": 0.5, "tax_percentage": 8.25, "rate": 1}],'
        b' "late_fee_amount": 3.3, "taxes": [{"tax_name": "VAT", "tax_amount": 0.21}],'
        b' "exchange_rate": 1.0, "payment_reminder_enabled": true, "page_count": 2}'
    )
    assert invoice.sub_total == Decimal("0.1") and invoice.tax_total == Decimal("0.2")
    assert invoice.payment_made == Decimal("10.05")
    assert invoice.discount_total == Decimal("1.1")
    assert invoice.shipping_charge == Decimal("2.3")
    assert invoice.adjustment == Decimal("-0.07")
    # The sums a user does with them come out exact.
    assert invoice.sub_total + invoice.tax_total == invoice.total
    line = invoice.line_items[0]
    assert line.discount == Decimal("0.5") and line.tax_percentage == Decimal("8.25")
    extra = invoice.model_extra or {}
    assert extra["late_fee_amount"] == Decimal("3.3")
    assert extra["taxes"][0]["tax_amount"] == Decimal("0.21")
    assert extra["exchange_rate"] == Decimal("1.0")
    # Not amounts: left as they came.
    assert extra["payment_reminder_enabled"] is True and extra["page_count"] == 2
    payment = CustomerPayment.model_validate({"payment_id": "9", "unused_amount": 0.7})
    assert payment.unused_amount == Decimal("0.7")


def test_line_discount_is_an_exact_amount_or_a_percentage() -> None:
    # Zoho: "Discount applied to the line item. It can be either in % or in amount. e.g. 12.5%
    # or 190." (docs/zoho/README.md)
    invoice = Invoice.model_validate_json(
        b'{"invoice_id": "1", "line_items": [{"discount": "12.5%"}, {"discount": 190},'
        b' {"discount": 0.1}, {"discount": " 5 %"}, {"discount": "7.25"}, {"discount": ""},'
        b' {"discount": null}, {}]}'
    )
    assert [line.discount for line in invoice.line_items] == [
        "12.5%",
        Decimal("190"),
        Decimal("0.1"),
        "5%",
        Decimal("7.25"),
        None,
        None,
        None,
    ]
    for bad in ("abc%", "%", "12.5%%", "ten"):
        with pytest.raises(ValidationError):
            LineItem.model_validate({"discount": bad})
    assert LineItemParams(name="x", discount="12.5%").to_body()["discount"] == "12.5%"
