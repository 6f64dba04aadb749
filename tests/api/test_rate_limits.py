"""Unit and integration tests of Zoho's rate-limit answers: 429 code 44 without headers waits
for the budget's window and holds back every caller of the organization; 1070 retries after a
short back-off; 45 (the daily quota) never retries. The sandbox plays the "no rate headers"
reading of docs/zoho/limits.md (``InvoiceLimits.rate_limit_headers=False``) on a short real
window."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api._fakes import Recorder, sync_client, zoho
from api._sandbox import ALICE, mint
from support import Clock
from zoho_invoice import RateLimitError
from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget, ZohoInvoice
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl


def test_44_without_headers_waits_the_budget_window_and_holds_everyone_back() -> None:
    clock = Clock(5000.0)
    budget = TokenBucketBudget(rate=90, window=60.0, burst=5, clock=clock)
    recorder = Recorder(zoho(429, 44, "too many"), zoho(contacts=[]))
    slept: list[float] = []
    client = sync_client(recorder, budget=budget, sleep=slept.append)
    client.contacts.list()
    assert len(recorder.requests) == 2
    assert sum(slept) == pytest.approx(60.0, abs=1.0)  # not the 0.5 s back-off
    # Another client of this process, same organization: it waits too, instead of
    # adding to Zoho's count while the minute is spent.
    waited: list[float] = []
    other = sync_client(Recorder(zoho(contacts=[])), budget=budget, sleep=waited.append)
    other.contacts.list()
    assert len(waited) == 1 and waited[0] > 55.0


def test_44_with_zoho_daily_headers_waits_the_minute_not_the_daily_reset() -> None:
    """Real answers carry the daily quota (X-Rate-Limit-Reset: 34881 seconds to the daily
    reset): a 44 waits the minute window and succeeds, it does not give up on 34881 s."""
    daily = {"X-Rate-Limit-Limit": "7500", "X-Rate-Limit-Remaining": "6775"}
    throttled = httpx.Response(
        429,
        json={"code": 44, "message": "too many"},
        headers={**daily, "X-Rate-Limit-Reset": "34881"},
    )
    recorder = Recorder(throttled, zoho(contacts=[]))
    slept: list[float] = []
    client = sync_client(
        recorder, budget=TokenBucketBudget(rate=90, window=60.0, burst=5), sleep=slept.append
    )
    client.contacts.list()
    assert len(recorder.requests) == 2
    assert 55.0 <= sum(slept) <= 61.0  # the minute, whatever the reset says


def test_1070_retries_after_a_short_back_off() -> None:
    recorder = Recorder(zoho(429, 1070, "too many at once"), zoho(contacts=[]))
    slept: list[float] = []
    client = sync_client(recorder, sleep=slept.append, random=lambda: 0.0)
    client.contacts.list()
    assert len(recorder.requests) == 2 and slept == [0.5]


@pytest.mark.parametrize("status", [429, 200])
def test_45_daily_quota_is_never_retried(status: int) -> None:
    recorder = Recorder(zoho(status, 45, "daily limit"))
    slept: list[float] = []
    client = sync_client(recorder, sleep=slept.append)
    with pytest.raises(RateLimitError) as info:
        client.contacts.list()
    assert info.value.code == 45
    assert len(recorder.requests) == 1 and slept == []


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def test_sandbox_without_rate_headers_a_44_is_waited_out(sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url) as http:
        alice = sandbox.world.directory.user_by_email(ALICE)
        assert alice is not None
        org = alice.organization_ids[0]
        control = InvoiceSandboxControl(http)
        control.seed(org, contacts=1, items=1, invoices=1)
        tokens = mint(http, alice.user_id)
        control.set_limits(per_minute=3, window_seconds=0.8, rate_limit_headers=False)
        control.reset_usage()
        # Our budget believes in more than the sandbox grants (another integration spends it).
        budget = TokenBucketBudget(rate=100, window=0.8, burst=10)
        with ZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=org,
            budget=budget,
            max_retries=1,
        ) as client:
            started = time.monotonic()
            for _ in range(4):  # the 4th is refused with 44 and no headers, then waited out
                assert client.items.list(per_page=1).items
            assert time.monotonic() - started >= 0.5
        assert len(sandbox.world.journal.entries("invoice.GET /items")) == 5  # 3 + 44 + retry
        # The sandbox really played the "no headers" reading.
        answer = http.get(
            "/api/us/invoice/v3/items",
            headers={
                "Authorization": f"Zoho-oauthtoken {tokens['access_token']}",
                "X-com-zoho-invoice-organizationid": org,
            },
        )
        assert "x-rate-limit-limit" not in answer.headers
