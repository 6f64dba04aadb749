"""Unit tests: what the client sends for Zoho's invoice options (docs/zoho/sandbox-rules.md):
``send`` and ``ignore_auto_number_generation`` go in the query string of the create, and the
client refuses, before sending anything, to switch Zoho's numbering off without a number."""

from __future__ import annotations

import anyio
import pytest

from api._fakes import ORG, Recorder, sync_client, zoho
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget

INVOICE = {"invoice_id": "982000000567114", "invoice_number": "A/7"}
BODY = {"customer_id": "1", "line_items": [{"name": "W", "rate": 1}]}


def test_create_sends_the_options_in_the_query_string() -> None:
    recorder = Recorder(httpx.Response(201, json={"code": 0, "invoice": INVOICE}))
    with sync_client(recorder) as client:
        made = client.invoices.create(
            BODY, invoice_number="A/7", ignore_auto_number_generation=True, send=False
        )
    assert made.invoice_number == "A/7"
    (request,) = recorder.requests
    assert request.url.params["ignore_auto_number_generation"] == "true"
    assert request.url.params["send"] == "false"
    assert recorder.bodies() == [{**BODY, "invoice_number": "A/7"}]


def test_create_without_options_sends_none() -> None:
    recorder = Recorder(httpx.Response(201, json={"code": 0, "invoice": INVOICE}))
    with sync_client(recorder) as client:
        client.invoices.create(BODY)
    assert "ignore_auto_number_generation" not in recorder.requests[0].url.params
    assert "send" not in recorder.requests[0].url.params


def test_numbering_off_without_a_number_is_refused_before_sending() -> None:
    recorder = Recorder(zoho())
    with sync_client(recorder) as client, pytest.raises(ValueError, match="invoice_number"):
        client.invoices.create(BODY, ignore_auto_number_generation=True)
    assert recorder.requests == []


def test_async_create_sends_the_options() -> None:
    recorder = Recorder(httpx.Response(201, json={"code": 0, "invoice": INVOICE}))

    async def main() -> None:
        async with AsyncZohoInvoice(
            access_token="1000.tok.en",
            organization_id=ORG,
            budget=UnlimitedBudget(),
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        ) as client:
            await client.invoices.create(
                BODY, invoice_number="A/7", ignore_auto_number_generation=True
            )
            with pytest.raises(ValueError, match="invoice_number"):
                await client.invoices.create(BODY, ignore_auto_number_generation=True)

    anyio.run(main)
    assert len(recorder.requests) == 1
    assert recorder.requests[0].url.params["ignore_auto_number_generation"] == "true"
