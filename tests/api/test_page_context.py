"""Unit tests: ``page_context`` keeps what Zoho says of the list (report, filter, sort, search
criteria), whether it comes as an object (real answers) or as a list of one object (as Zoho's
pages print it) (docs/zoho/sandbox-rules.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from api._fakes import Recorder, sync_client, zoho
from zoho_invoice.api._pagination import Page, parse_page
from zoho_invoice.api.types import Invoice, PageContext

# Zoho's documented list-invoices page_context, as its page prints it.
DOCUMENTED = [
    {
        "page": 1,
        "per_page": 200,
        "has_more_page": False,
        "report_name": "Invoices",
        "applied_filter": "Status.All",
        "sort_column": "created_time",
        "sort_order": "D",
        "response_option": 2,
    }
]
CRITERIA = [{"column_name": "status", "search_text": "paid", "comparator": "equal"}]


def check(context: PageContext) -> None:
    assert (context.page, context.per_page, context.has_more_page) == (1, 200, False)
    assert (context.report_name, context.applied_filter) == ("Invoices", "Status.All")
    assert (context.sort_column, context.sort_order) == ("created_time", "D")
    assert context.model_extra == {"response_option": 2}


@pytest.mark.parametrize("shape", ["object", "list"])
def test_parse_page_reads_both_shapes(shape: str) -> None:
    context: Any = DOCUMENTED if shape == "list" else DOCUMENTED[0]
    body = {"code": 0, "invoices": [{"invoice_id": 1}], "page_context": context}
    code, page = parse_page(json.dumps(body).encode(), "invoices", Invoice, page=1, per_page=200)
    assert code == 0
    check(page.page_context)
    from_dict = Page.from_body(body, "invoices", Invoice, page=1, per_page=200)
    check(from_dict.page_context)


def test_search_criteria_are_typed_and_the_client_hands_them_out() -> None:
    context = {**DOCUMENTED[0], "search_criteria": CRITERIA}
    recorder = Recorder(zoho(invoices=[{"invoice_id": "5"}], page_context=context))
    with sync_client(recorder) as client:
        page = client.invoices.list(status="paid")
    assert page.page_context.search_criteria == CRITERIA
    assert page.page_context.report_name == "Invoices"
    assert [i.invoice_id for i in page] == ["5"]


@pytest.mark.parametrize(
    "body",
    [
        {"code": 0, "invoices": None},  # a null list: no items
        {"code": 0},  # no list at all
        {"code": 0, "invoices": [{"invoice_id": 1}, {"invoice_id": 2}]},  # a full page
        {"code": 0, "invoices": [{"invoice_id": 1}]},  # a short one
        {"code": 0, "invoices": [{"invoice_id": 1}], "page_context": DOCUMENTED},
    ],
)
def test_a_decoded_answer_and_its_bytes_give_the_same_page(body: dict[str, Any]) -> None:
    """One parser: ``Page.from_body`` (resources that decode first) reads as ``parse_page``."""
    _, from_bytes = parse_page(json.dumps(body).encode(), "invoices", Invoice, page=3, per_page=2)
    from_dict = Page.from_body(body, "invoices", Invoice, page=3, per_page=2)
    assert from_dict == from_bytes
    expected = len(body.get("invoices") or [])
    assert len(from_dict) == expected
    if "page_context" not in body:
        assert from_dict.page_context.page == 3
        assert from_dict.has_more == (expected >= 2)


def test_an_item_zoho_cannot_have_sent_is_refused_by_both() -> None:
    body = {"code": 0, "invoices": [{"invoice_id": {"not": "an id"}}]}
    with pytest.raises(ValidationError):
        parse_page(json.dumps(body).encode(), "invoices", Invoice, page=1, per_page=2)
    with pytest.raises(ValidationError):
        Page.from_body(body, "invoices", Invoice, page=1, per_page=2)
