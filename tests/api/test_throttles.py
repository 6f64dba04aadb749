"""Integration tests (the sandbox on a real port; a clock both sides share, moved by the client's
injected sleep) of Zoho's throttles as they really are: a 44 is waited out for the minute and
succeeds; a 45 raises ``DailyQuotaExceeded`` with the reset Zoho reported and nothing more is
sent for that organization, by any client of the process; the daily quota Zoho reports is kept
(``client.rate_limit``); an IP block pauses every organization of the process. Unit tests of
the same rules with ``httpx.MockTransport`` where the answer must be one the sandbox never gives.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from api._fakes import ORG, Recorder, sync_client, zoho
from api._sandbox import ALICE, mint
from support import Clock
from zoho_invoice import DailyQuotaExceeded, IPBlockedError, RateLimitError, _metrics
from zoho_invoice._http import httpx
from zoho_invoice.api import (
    AsyncZohoInvoice,
    InProcessQuotaBlocks,
    IPThrottle,
    RateLimitStatus,
    TokenBucketBudget,
    UnlimitedBudget,
    ZohoInvoice,
)
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

NOON = 1_789_992_000.0  # 2026-09-21T12:00:00Z
MIDNIGHT_AFTER = datetime(2026, 9, 22, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with running_sandbox(clock=clock) as running:
        yield running


@pytest.fixture
def http(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url) as client:
        yield client


@pytest.fixture
def setup(sandbox: RunningSandbox, http: httpx.Client) -> dict[str, Any]:
    """Alice's two organizations (one item each) and a token for her."""
    alice = sandbox.world.directory.user_by_email(ALICE)
    assert alice is not None
    control = InvoiceSandboxControl(http)
    for org in alice.organization_ids[:2]:
        control.seed(org, contacts=1, items=1, invoices=0)
    sandbox.world.settings.access_token_lifetime = 3 * 86400  # the tests move the clock by a day
    tokens = mint(http, alice.user_id)
    control.reset_usage()
    return {"tokens": tokens, "orgs": alice.organization_ids[:2], "control": control}


def client_for(
    setup: dict[str, Any], clock: Clock, org_index: int = 0, **options: Any
) -> ZohoInvoice:
    options.setdefault("budget", UnlimitedBudget())
    options.setdefault("max_retries", 2)
    return ZohoInvoice(
        access_token=setup["tokens"]["access_token"],
        api_domain=setup["tokens"]["api_domain"],
        organization_id=setup["orgs"][org_index],
        sleep=clock.sleep,
        clock=clock,
        **options,
    )


def sent(sandbox: RunningSandbox, endpoint: str = "invoice.GET /items") -> int:
    return len(sandbox.world.journal.entries(endpoint))


# ------------------------------------------------------------------------------ 44: a minute


def test_44_is_waited_out_for_the_minute_and_succeeds(
    setup: dict[str, Any], clock: Clock, sandbox: RunningSandbox
) -> None:
    setup["control"].set_limits(per_minute=2, window_seconds=60, daily=7500)
    budget = TokenBucketBudget(rate=100, window=60.0, burst=10, clock=clock)
    with client_for(setup, clock, budget=budget, max_retries=1) as client:
        for _ in range(3):  # the third is refused (44), waited out, and sent again
            assert client.items.list(per_page=1).items
        assert sent(sandbox) == 4
        # One minute, not the 12 hours X-Rate-Limit-Reset counts to the daily reset.
        assert clock.now - NOON == pytest.approx(60.0, abs=1.0)
        # Zoho reported the day's quota on every answer; the client kept the last.
        assert client.rate_limit == RateLimitStatus(
            limit=7500, remaining=7497, resets_at=MIDNIGHT_AFTER
        )


# --------------------------------------------------------------------------- 45: the day


@pytest.mark.parametrize("http_200", [False, True])
def test_45_raises_daily_quota_exceeded_and_nothing_more_is_sent(
    setup: dict[str, Any], clock: Clock, sandbox: RunningSandbox, http_200: bool
) -> None:
    setup["control"].set_limits(daily=2, daily_error_http_200=http_200)
    blocks = InProcessQuotaBlocks(clock=clock)
    with client_for(setup, clock, quota_blocks=blocks) as client:
        client.items.list(per_page=1)
        client.items.list(per_page=1)
        with pytest.raises(DailyQuotaExceeded) as info:
            client.items.list(per_page=1)
        assert info.value.code == 45
        assert info.value.status_code == (200 if http_200 else 429)
        assert info.value.resets_at == MIDNIGHT_AFTER  # X-Rate-Limit-Reset, not a guess
        assert info.value.organization_id == setup["orgs"][0]
        assert sent(sandbox) == 3  # no retry of a 45
        # The next call, and the next client of the process on the same organization, send
        # nothing: every request would only add to Zoho's count until midnight.
        with pytest.raises(DailyQuotaExceeded) as again:
            client.contacts.list()
        assert again.value.status_code is None and again.value.resets_at == MIDNIGHT_AFTER
    with client_for(setup, clock, quota_blocks=blocks) as other:
        with pytest.raises(DailyQuotaExceeded):
            other.items.get("1")
        assert sent(sandbox, "invoice.*") == 3
        # Another organization of the same user is not blocked.
    with client_for(setup, clock, 1, quota_blocks=blocks) as second_org:
        assert second_org.items.list(per_page=1).items
    # After Zoho's reset, requests go out again.
    clock.now = MIDNIGHT_AFTER.timestamp() + 1
    with client_for(setup, clock, quota_blocks=blocks) as client:
        assert client.items.list(per_page=1).items


def test_45_without_headers_blocks_an_hour_then_probes(
    setup: dict[str, Any], clock: Clock, sandbox: RunningSandbox
) -> None:
    setup["control"].set_limits(daily=1, rate_limit_headers=False)
    blocks = InProcessQuotaBlocks(clock=clock)
    with client_for(setup, clock, quota_blocks=blocks) as client:
        client.items.list(per_page=1)
        with pytest.raises(DailyQuotaExceeded) as info:
            client.items.list(per_page=1)
        assert client.rate_limit is None  # Zoho said nothing of its quota
        assert info.value.resets_at == datetime.fromtimestamp(NOON + 3600, UTC)
        clock.now += 3599
        with pytest.raises(DailyQuotaExceeded):
            client.items.list(per_page=1)
        assert sent(sandbox) == 2
        clock.now += 2  # one request probes; Zoho still says 45 (same UTC day)
        with pytest.raises(DailyQuotaExceeded):
            client.items.list(per_page=1)
        assert sent(sandbox) == 3


@pytest.mark.anyio
async def test_async_client_keeps_the_same_block(
    setup: dict[str, Any], clock: Clock, sandbox: RunningSandbox
) -> None:
    setup["control"].set_limits(daily=1)
    blocks = InProcessQuotaBlocks(clock=clock)
    async with AsyncZohoInvoice(
        access_token=setup["tokens"]["access_token"],
        api_domain=setup["tokens"]["api_domain"],
        organization_id=setup["orgs"][0],
        budget=UnlimitedBudget(),
        quota_blocks=blocks,
        sleep=clock.asleep,
        clock=clock,
    ) as client:
        await client.items.list(per_page=1)
        with pytest.raises(DailyQuotaExceeded) as info:
            await client.items.list(per_page=1)
        assert info.value.resets_at == MIDNIGHT_AFTER
        assert client.rate_limit == RateLimitStatus(1, 0, MIDNIGHT_AFTER)
    # A sync client sharing the blocks sends nothing either.
    with client_for(setup, clock, quota_blocks=blocks) as sync, pytest.raises(DailyQuotaExceeded):
        sync.items.list(per_page=1)
    assert sent(sandbox) == 2


def test_daily_quota_exceeded_is_a_rate_limit_error() -> None:
    """Code that caught RateLimitError for a 45 keeps working."""
    recorder = Recorder(zoho(429, 45, "daily"))
    with sync_client(recorder) as client, pytest.raises(RateLimitError) as info:
        client.items.list()
    assert isinstance(info.value, DailyQuotaExceeded)


def test_reset_of_34881_is_the_daily_reset_not_a_wait() -> None:
    """The real answer quoted on Weble/ZohoBooksApi#38, as a success and as a 45."""
    headers = {
        "X-Rate-Limit-Limit": "7500",
        "X-Rate-Limit-Remaining": "6775",
        "X-Rate-Limit-Reset": "34881",
    }
    ok = httpx.Response(200, json={"code": 0, "message": "success", "items": []}, headers=headers)
    over = httpx.Response(
        429,
        json={"code": 45, "message": "daily"},
        headers={**headers, "X-Rate-Limit-Remaining": "0"},
    )
    recorder = Recorder(ok, over)
    slept: list[float] = []
    now = time.time()
    with sync_client(recorder, sleep=slept.append, clock=lambda: now) as client:
        client.items.list()
        assert client.rate_limit == RateLimitStatus(
            7500, 6775, datetime.fromtimestamp(now + 34881, UTC)
        )
        with pytest.raises(DailyQuotaExceeded) as info:
            client.items.list()
        assert info.value.resets_at == datetime.fromtimestamp(now + 34881, UTC)
        with pytest.raises(DailyQuotaExceeded):
            client.items.list()
    assert len(recorder.requests) == 2 and slept == []


def test_daily_quota_and_throttles_are_exported_as_metrics() -> None:
    headers = {
        "X-Rate-Limit-Limit": "7500",
        "X-Rate-Limit-Remaining": "6775",
        "X-Rate-Limit-Reset": "34881",
    }
    ok = httpx.Response(200, json={"code": 0, "message": "success", "items": []}, headers=headers)
    before = _metrics.render().decode()
    with sync_client(Recorder(zoho(429, 45, "daily"))) as spent, pytest.raises(RateLimitError):
        spent.items.list()
    with sync_client(Recorder(ok)) as client:
        client.items.list()
    text = _metrics.render().decode()
    assert f'zoho_invoice_api_daily_quota_limit{{organization="{ORG}"}} 7500.0' in text
    assert f'zoho_invoice_api_daily_quota_remaining{{organization="{ORG}"}} 6775.0' in text
    assert "zoho_invoice_api_daily_quota_reset_timestamp_seconds" in text
    assert _count(text, "daily") == _count(before, "daily") + 1


def _count(text: str, kind: str) -> float:
    found = re.search(rf'zoho_invoice_api_throttled_total{{kind="{kind}"}} ([\d.]+)', text)
    return float(found.group(1)) if found else 0.0


# ------------------------------------------------------------------------ the IP address


def test_ip_block_pauses_every_organization_of_the_process(
    setup: dict[str, Any], clock: Clock, sandbox: RunningSandbox
) -> None:
    """Zoho blocks the address, whatever the organization: the client that meets the block
    pauses the whole process and retries; a client of *another* organization waits too instead
    of prolonging the block."""
    setup["control"].set_limits(ip_per_minute=3, ip_block_seconds=60)
    throttle = IPThrottle(clock=clock)
    first = client_for(setup, clock, 0, ip_throttle=throttle, max_retries=1)
    second = client_for(setup, clock, 1, ip_throttle=throttle, max_retries=0)
    first.items.list(per_page=1)
    second.items.list(per_page=1)
    first.items.list(per_page=1)
    # The 4th request from this address is blocked: the process pauses, then it is sent again.
    assert first.items.list(per_page=1).items
    assert clock.now - NOON == pytest.approx(60.0)
    assert sent(sandbox) == 5
    # Now the other organization's client meets a block, with no retry left ...
    setup["control"].set_limits(ip_per_minute=1, ip_block_seconds=600)
    setup["control"].reset_usage()
    second.items.list(per_page=1)
    with pytest.raises(IPBlockedError):
        second.items.list(per_page=1)
    assert throttle.wait() == pytest.approx(120.0)  # a repeated block: the pause doubled
    # ... and the first organization's client, which met nothing, waits it out before sending.
    setup["control"].set_limits(ip_per_minute=None)
    before = clock.now
    assert first.items.list(per_page=1).items
    assert clock.now - before == pytest.approx(120.0)
    assert sent(sandbox) == 8
    first.close()
    second.close()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            429,
            json={
                "code": 44,
                "message": "For security reasons your IP has been blocked as you have exceeded "
                "the maximum number of requests per minute that can originate from one IP "
                "address.",
            },
        ),
        httpx.Response(
            400,
            html="<html><body><p>For security reasons your IP has been blocked.</p></body></html>",
        ),
        httpx.Response(
            400,
            json={
                "code": "request_limit_exceeded",
                "message": "For security reasons you have been blocked for some time as you have "
                "exceeded the maximum number of requests per minute.",
            },
        ),
    ],
    ids=["json-429", "html-400", "string-code"],
)
def test_ip_block_is_known_by_its_wording_whatever_status_or_format(answer: httpx.Response) -> None:
    throttle = IPThrottle(clock=lambda: 100.0)
    recorder = Recorder(answer, zoho(items=[]))
    slept: list[float] = []
    with sync_client(recorder, ip_throttle=throttle, max_retries=1, sleep=slept.append) as client:
        client.items.list()
    assert len(recorder.requests) == 2 and slept == [60.0]
    assert throttle.wait() == 60.0  # every other client of the process waits as well
    recorder = Recorder(answer)
    client = sync_client(recorder, ip_throttle=IPThrottle(), max_retries=0)
    with client, pytest.raises(IPBlockedError) as info:
        client.items.list()
    assert "blocked" in info.value.message


def test_ip_pause_grows_while_blocks_repeat() -> None:
    now = [0.0]
    throttle = IPThrottle(clock=lambda: now[0])
    assert throttle.blocked() == 60.0
    assert throttle.blocked() == 60.0  # the same block, met by another caller
    now[0] = 61.0
    assert throttle.blocked() == 120.0
    now[0] = 61.0 + 120.0 + 601.0  # long after: a new episode
    assert throttle.blocked() == 60.0
    assert throttle.blocked(at_least=0) <= 60.0


def test_a_success_mentioning_a_blocked_ip_is_no_block() -> None:
    """Only error answers are read for the block: an invoice's notes may say anything."""
    notes = {"invoice_id": "1", "notes": "your IP has been blocked"}
    recorder = Recorder(zoho(invoice=notes))
    throttle = IPThrottle()
    with sync_client(recorder, ip_throttle=throttle) as client:
        client.invoices.get("1")
    assert throttle.wait() == 0.0


def test_quota_blocks_lengthen_never_shorten() -> None:
    blocks = InProcessQuotaBlocks()
    later = time.time() + 100
    blocks.block("k", later)
    blocks.block("k", later - 50)
    assert blocks.blocked_until("k") == later
    assert blocks.blocked_until("other") is None
    blocks.block("past", time.time() - 1)
    assert blocks.blocked_until("past") is None


@pytest.mark.anyio
async def test_async_client_pauses_for_an_ip_block_and_retries() -> None:
    blocked = httpx.Response(
        400, html="<html><p>For security reasons your IP has been blocked.</p></html>"
    )
    recorder = Recorder(blocked, zoho(items=[]))
    throttle = IPThrottle(clock=lambda: 100.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with AsyncZohoInvoice(
        access_token="1000.tok.en",
        organization_id=ORG,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        budget=UnlimitedBudget(),
        ip_throttle=throttle,
        quota_blocks=InProcessQuotaBlocks(),
        max_retries=1,
        sleep=sleep,
    ) as client:
        await client.items.list()
    assert len(recorder.requests) == 2 and slept == [60.0]
