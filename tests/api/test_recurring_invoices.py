"""Integration tests: recurring invoices, the sync client against the sandbox on a real port and
the async client in process, with the world's clock moved to make profiles due.

The sandbox makes a profile's due invoices before it handles any request of the organization
(sandbox/invoice/_recurring.py), so "a month later, the customer has a second invoice" is: move
the clock, then list the profile's children.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api._sandbox import ALICE, amint, mint
from support import Clock
from zoho_invoice import BadRequestError, NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api.types import RecurringInvoiceParams
from zoho_invoice_sandbox import RunningSandbox, create_sandbox_app, running_sandbox
from zoho_invoice_sandbox.invoice._recurring import occurrence

DAY = 86_400.0


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(ticking=True)


@pytest.fixture(scope="module")
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with running_sandbox(clock=clock) as running:
        # Tokens outlive the months the tests move the clock by.
        running.world.settings.access_token_lifetime = 10 * 365 * DAY
        yield running


@pytest.fixture(scope="module")
def client(sandbox: RunningSandbox) -> Iterator[ZohoInvoice]:
    user = sandbox.world.directory.user_by_email(ALICE)
    assert user is not None
    with httpx.Client(base_url=sandbox.base_url) as http:
        tokens = mint(http, user.user_id)
    with ZohoInvoice(
        access_token=tokens["access_token"],
        api_domain=tokens["api_domain"],
        organization_id=user.organization_ids[0],
        budget=UnlimitedBudget(),
        timeout=10.0,
    ) as client:
        yield client


def _profile(client: ZohoInvoice, name: str, start: date, **fields: Any) -> str:
    customer = client.contacts.create(contact_name=f"{name} Customer").contact_id
    profile = client.recurring_invoices.create(
        RecurringInvoiceParams(
            recurrence_name=name,
            customer_id=customer,
            start_date=start,
            line_items=[{"name": "Hosting", "rate": Decimal("25.10")}],
            **{"recurrence_frequency": "months", "repeat_every": 1, **fields},
        )
    )
    return profile.recurring_invoice_id


def _children(client: ZohoInvoice, profile_id: str) -> list[tuple[date | None, str | None]]:
    page = client.recurring_invoices.child_invoices(profile_id, sort_column="date", sort_order="A")
    return [(invoice.date, invoice.status) for invoice in page]


def test_a_profile_invoices_on_its_start_and_then_every_month_as_the_clock_moves(
    client: ZohoInvoice, clock: Clock
) -> None:
    start = clock.today()
    profile_id = _profile(client, "Monthly hosting", start)
    profile = client.recurring_invoices.get(profile_id)
    assert profile.status == "active" and profile.last_sent_date == start
    assert profile.next_invoice_date == occurrence(start, "months", 1, 1)
    assert _children(client, profile_id) == [(start, "sent")]
    child = client.recurring_invoices.child_invoices(profile_id).items[0]
    assert child.total == Decimal("25.10") and child.balance == Decimal("25.10")
    assert child.model_extra is not None
    assert child.model_extra["recurring_invoice_id"] == profile_id

    clock.advance(65 * DAY)  # two more monthly dates pass
    dates = [day for day, _ in _children(client, profile_id)]
    assert dates == [occurrence(start, "months", 1, n) for n in range(3)]
    profile = client.recurring_invoices.get(profile_id)
    assert profile.next_invoice_date == occurrence(start, "months", 1, 3)
    names = [p.recurrence_name for p in client.recurring_invoices.list(status="active")]
    assert "Monthly hosting" in names


def test_a_stopped_profile_makes_nothing_and_resumes_without_the_skipped_dates(
    client: ZohoInvoice, clock: Clock
) -> None:
    start = clock.today()
    profile_id = _profile(client, "Weekly cleaning", start, recurrence_frequency="weeks")
    client.recurring_invoices.stop(profile_id)
    clock.advance(22 * DAY)
    assert len(_children(client, profile_id)) == 1
    assert client.recurring_invoices.get(profile_id).status == "stopped"

    client.recurring_invoices.resume(profile_id)
    resumed = client.recurring_invoices.get(profile_id)
    assert resumed.status == "active"
    # Three weekly dates passed while stopped; the next is the fourth, after today.
    assert resumed.next_invoice_date == occurrence(start, "weeks", 1, 4)
    assert resumed.next_invoice_date > clock.today()
    assert len(_children(client, profile_id)) == 1


def test_a_profile_past_its_end_date_expires(client: ZohoInvoice, clock: Clock) -> None:
    start = clock.today()
    end = start + timedelta(days=20)
    profile_id = _profile(
        client,
        "Ten-day retainer",
        start,
        recurrence_frequency="days",
        repeat_every=10,
        end_date=end,
    )
    clock.advance(45 * DAY)
    assert [day for day, _ in _children(client, profile_id)] == [
        start,
        start + timedelta(days=10),
        start + timedelta(days=20),
    ]
    profile = client.recurring_invoices.get(profile_id)
    assert profile.status == "expired" and profile.next_invoice_date is None
    with pytest.raises(BadRequestError):
        client.recurring_invoices.resume(profile_id)


def test_profile_errors_and_delete_keeps_the_children(client: ZohoInvoice, clock: Clock) -> None:
    customer = client.contacts.create(contact_name="Nameless Customer").contact_id
    with pytest.raises(BadRequestError) as unnamed:
        client.recurring_invoices.create(
            customer_id=customer,
            recurrence_frequency="months",
            line_items=[{"name": "Hosting", "rate": "1.00"}],
        )
    assert unnamed.value.code == 4031
    with pytest.raises(BadRequestError):
        client.recurring_invoices.create(
            recurrence_name="Bad",
            customer_id=customer,
            recurrence_frequency="fortnights",
            line_items=[{"name": "Hosting", "rate": "1.00"}],
        )
    profile_id = _profile(client, "Short lived", clock.today() + timedelta(days=3))
    assert _children(client, profile_id) == []  # starts in three days
    renamed = client.recurring_invoices.update(profile_id, recurrence_name="Renamed")
    assert renamed.recurrence_name == "Renamed"
    clock.advance(4 * DAY)
    assert len(_children(client, profile_id)) == 1
    client.recurring_invoices.delete(profile_id)
    with pytest.raises(NotFoundError) as gone:
        client.recurring_invoices.get(profile_id)
    assert gone.value.code == 1002
    assert len(_children(client, profile_id)) == 1


def test_schedules_keep_the_start_day_and_clamp_to_short_months() -> None:
    start = date(2027, 1, 31)
    assert [occurrence(start, "months", 1, n) for n in range(4)] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert occurrence(date(2028, 2, 29), "years", 1, 1) == date(2029, 2, 28)
    assert occurrence(start, "weeks", 2, 3) == start + timedelta(weeks=6)


# -- async --------------------------------------------------------------------------------------

BASE = "http://sandbox.test"


@pytest.fixture
async def aclient() -> AsyncIterator[tuple[AsyncZohoInvoice, Clock]]:
    clock = Clock(ticking=True)
    app = create_sandbox_app(base_url=BASE, clock=clock)
    app.state.world.settings.access_token_lifetime = 10 * 365 * DAY
    user = app.state.world.directory.user_by_email(ALICE)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        tokens = await amint(http, user.user_id)
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE) as api_http,
        AsyncZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=user.organization_ids[0],
            http_client=api_http,
            budget=UnlimitedBudget(),
        ) as client,
    ):
        yield client, clock


@pytest.mark.anyio
async def test_async_profile_children_and_stop(aclient: tuple[AsyncZohoInvoice, Clock]) -> None:
    client, clock = aclient
    customer = (await client.contacts.create(contact_name="Async Recurring")).contact_id
    profile = await client.recurring_invoices.create(
        recurrence_name="Yearly licence",
        customer_id=customer,
        recurrence_frequency="years",
        repeat_every=1,
        line_items=[{"name": "Licence", "rate": "1200.00"}],
    )
    clock.advance(370 * DAY)
    children = [i async for i in client.recurring_invoices.iter_child_invoices(
        profile.recurring_invoice_id
    )]  # fmt: skip
    assert [i.total for i in children] == [Decimal("1200.00")] * 2
    await client.recurring_invoices.stop(profile.recurring_invoice_id)
    assert (await client.recurring_invoices.get(profile.recurring_invoice_id)).status == "stopped"
    page = await client.recurring_invoices.list()
    assert [p.recurring_invoice_id for p in page] == [profile.recurring_invoice_id]
