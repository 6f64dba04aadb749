"""Integration tests of TokenManager against the real Vault on SQLite and a MockTransport Zoho
(SECURITY 26, 28-33, 35)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tokens._support import Manager
from zoho_invoice import ConfigurationError, ReauthorizationRequired, TokenUnavailableError
from zoho_invoice._exceptions import ClientSecretRejectedError
from zoho_invoice._http import httpx
from zoho_invoice.tokens import AccessToken, AsyncTokenManager, InProcessRefreshLocks
from zoho_invoice.vault import Status


def at(manager: Manager, seconds: float) -> datetime:
    return datetime.fromtimestamp(manager.clock() + seconds, UTC)


def test_valid_token_is_returned_without_asking_zoho(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=3000)
    token = make_manager().get_access_token(cid)
    assert token.token == make_manager.old_access
    assert token.api_domain == "https://www.zohoapis.eu" and token.connection_id == cid
    assert make_manager.zoho.refreshes == 0
    assert make_manager.old_access not in repr(token)


def test_token_inside_the_leeway_is_refreshed_stored_and_counted(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=200)  # under the 300 s leeway
    manager = make_manager()
    token = manager.get_access_token(cid)
    assert token.token == make_manager.zoho.minted[0]
    assert token.expires_at == at(make_manager, 3600)
    stored = make_manager.vault.load_tokens(cid)
    assert stored.access_token == token.token and stored.version == 2
    assert stored.refresh_token == make_manager.refresh_token  # Zoho does not rotate it
    assert make_manager.vault.mints_since(cid, at(make_manager, -600)) == 1
    assert manager.get_access_token(cid).token == token.token
    assert make_manager.zoho.refreshes == 1


def test_s26_fifty_threads_one_refresh(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=30)
    zoho = make_manager.zoho
    slow = threading.Event()

    def slow_ok(request: httpx.Request) -> httpx.Response:
        slow.wait(0.2)  # keep the refresh in flight while the others pile up
        return zoho.ok(request)

    zoho.script.append(slow_ok)
    manager = make_manager()
    barrier = threading.Barrier(50)
    results: list[AccessToken] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(manager.get_access_token(cid))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert zoho.refreshes == 1
    assert {r.token for r in results} == {zoho.minted[0]} and len(results) == 50


def test_s28_a_stalled_holder_cannot_overwrite_newer_tokens(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=10)
    zoho = make_manager.zoho
    a_sent, b_done = threading.Event(), threading.Event()

    def stalled(request: httpx.Request) -> httpx.Response:
        a_sent.set()
        b_done.wait(5)
        return httpx.Response(
            200,
            json={
                "access_token": "1000.aaaa.aaaa",
                "expires_in": 3600,
                "api_domain": "https://www.zohoapis.eu",
            },
        )

    # Two "processes": separate locks, as when a holder outlived its lease.
    manager_a = make_manager(zoho=stalled, locks=InProcessRefreshLocks())
    manager_b = make_manager(locks=InProcessRefreshLocks())
    result: list[AccessToken] = []
    thread = threading.Thread(target=lambda: result.append(manager_a.get_access_token(cid)))
    thread.start()
    assert a_sent.wait(5)
    fresh = manager_b.get_access_token(cid)
    b_done.set()
    thread.join(5)
    assert fresh.token == zoho.minted[0]
    assert make_manager.vault.load_tokens(cid).access_token == fresh.token
    assert result[0].token == fresh.token  # A hands out the winner's token, not its own


def test_s29_lock_timeout_returns_the_token_another_worker_stored(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=2)  # all but expired
    locks = InProcessRefreshLocks()
    manager = make_manager(locks=locks, lock_wait=0.05)
    vault = make_manager.vault
    with locks.acquire(cid, lease_seconds=30, wait_seconds=1) as held:
        assert held
        # "another worker" refreshes while it holds the lock
        version = vault.load_tokens(cid).version
        vault.store_refreshed(
            cid,
            expected_version=version,
            access_token="1000.0f0f.0f0f",
            expires_at=at(make_manager, 3600),
        )
        token = manager.get_access_token(cid)
    assert token.token == "1000.0f0f.0f0f"
    assert make_manager.zoho.refreshes == 0


def test_s29_lock_timeout_with_nothing_fresh_is_a_clear_error(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=2)
    locks = InProcessRefreshLocks()
    manager = make_manager(locks=locks, lock_wait=0.05)
    with (
        locks.acquire(cid, lease_seconds=30, wait_seconds=1),
        pytest.raises(TokenUnavailableError) as info,
    ):
        manager.get_access_token(cid)
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert make_manager.zoho.refreshes == 0


def test_s30_transient_failures_are_retried_with_back_off(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=100)
    zoho = make_manager.zoho

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    zoho.script += [lambda r: httpx.Response(503), timeout]
    token = make_manager().get_access_token(cid)
    assert zoho.refreshes == 3 and token.token == zoho.minted[0]
    assert make_manager.sleeps == [0.25, 0.5]  # jitter pinned to 0: half of 0.5, then of 1.0


def test_s30_at_most_three_attempts_then_the_current_token_or_an_error(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=100)
    zoho = make_manager.zoho
    zoho.script += [make_manager.error("server_error")] * 10
    manager = make_manager()
    assert manager.get_access_token(cid).token == make_manager.old_access  # still valid
    assert zoho.refreshes == 3
    make_manager.clock.advance(200)  # now expired
    with pytest.raises(TokenUnavailableError):
        manager.get_access_token(cid)
    assert zoho.refreshes == 6


def test_s30_retries_stay_inside_the_lock_lease(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=100)
    make_manager.zoho.script += [lambda r: httpx.Response(502)] * 10
    make_manager(lock_lease=1.6).get_access_token(cid)  # deadline: 0.6 s after start
    assert make_manager.zoho.refreshes == 2 and make_manager.sleeps == [0.25]


@pytest.mark.parametrize("code", ["invalid_code", "invalid_client"])
def test_s31_dead_refresh_token_marks_needs_reauth_and_emits(
    make_manager: Manager, code: str
) -> None:
    cid = make_manager.save(expires_in=100, owner="tenant-7")
    make_manager.zoho.script.append(make_manager.error(code))
    manager = make_manager()
    with pytest.raises(ReauthorizationRequired) as info:
        manager.get_access_token(cid)
    assert info.value.connection_id == cid and info.value.status == "needs_reauth"
    assert make_manager.zoho.refreshes == 1  # no retry
    connection = make_manager.vault.get_connection(cid)
    assert connection.status == "needs_reauth" and code in (connection.status_reason or "")
    (event,) = make_manager.events
    assert (event.type, event.connection_id, event.owner) == (
        "connection.needs_reauth",
        cid,
        "tenant-7",
    )
    with pytest.raises(ReauthorizationRequired):
        manager.get_access_token(cid)
    assert make_manager.zoho.refreshes == 1  # later calls do not ask Zoho


def test_invalid_client_secret_keeps_the_connection_active_and_does_not_hammer_zoho(
    make_manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    cid = make_manager.save(expires_in=30, owner="tenant-8")
    make_manager.zoho.script += [make_manager.error("invalid_client_secret")] * 5
    manager = make_manager(throttle_backoff=60.0)
    with caplog.at_level("ERROR", logger="zoho_invoice.tokens"):
        # The current token still lives: it is handed out meanwhile.
        assert manager.get_access_token(cid).token == make_manager.old_access
    assert "ZOHO_CLIENT_SECRET" in caplog.text
    connection = make_manager.vault.get_connection(cid)
    assert connection.status == "active"
    assert make_manager.events == []
    make_manager.clock.advance(40)  # the token is dead now, and we are still backing off
    with pytest.raises(ClientSecretRejectedError) as info:
        manager.get_access_token(cid)
    assert isinstance(info.value, ConfigurationError)
    assert isinstance(info.value, TokenUnavailableError)  # the web service answers 503
    assert "ZOHO_CLIENT_SECRET" in str(info.value)
    assert make_manager.zoho.refreshes == 1
    make_manager.clock.advance(30)  # the back-off is over: one more try, still refused
    with pytest.raises(ClientSecretRejectedError):
        manager.get_access_token(cid)
    assert make_manager.zoho.refreshes == 2
    assert make_manager.vault.get_connection(cid).status == "active"


@pytest.mark.parametrize("status", ["needs_reauth", "revoked"])
def test_dead_connection_fails_at_once(make_manager: Manager, status: Status) -> None:
    cid = make_manager.save(expires_in=3000)
    make_manager.vault.set_status(cid, status, reason="test")
    with pytest.raises(ReauthorizationRequired):
        make_manager().get_access_token(cid)
    assert make_manager.zoho.refreshes == 0


def test_s31_a_broken_event_sink_does_not_break_the_refresh_path(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=100)
    make_manager.zoho.script.append(make_manager.error("invalid_code"))

    def broken(event: object) -> None:
        raise RuntimeError("sink down")

    with pytest.raises(ReauthorizationRequired):
        make_manager(events=broken).get_access_token(cid)


def test_s32_throttle_keeps_the_current_token_and_backs_off(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=120)
    zoho = make_manager.zoho
    zoho.script.append(
        make_manager.error(
            "Access Denied",
            error_description="You have made too many requests continuously.",
        )
    )
    manager = make_manager(throttle_backoff=60.0)
    assert manager.get_access_token(cid).token == make_manager.old_access
    for _ in range(20):  # no retry storm while backing off
        assert manager.get_access_token(cid).token == make_manager.old_access
    assert zoho.refreshes == 1
    make_manager.clock.advance(30)
    assert manager.get_access_token(cid).token == make_manager.old_access
    assert zoho.refreshes == 1
    make_manager.clock.advance(31)  # the back-off is over: one new try, which works
    assert manager.get_access_token(cid).token == zoho.minted[0]
    assert zoho.refreshes == 2


def test_s32_throttled_with_no_valid_token_is_a_clear_error(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=1)
    make_manager.zoho.script.append(
        make_manager.error("Access Denied", error_description="too many requests")
    )
    manager = make_manager(throttle_backoff=60.0)
    with pytest.raises(TokenUnavailableError) as info:
        manager.get_access_token(cid)
    assert info.value.retry_after == pytest.approx(60.0, abs=1)
    with pytest.raises(TokenUnavailableError):
        manager.get_access_token(cid)
    assert make_manager.zoho.refreshes == 1


def test_s33_never_more_than_ten_mints_in_ten_minutes(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=0.5)
    manager = make_manager()
    vault, zoho, clock = make_manager.vault, make_manager.zoho, make_manager.clock
    minted_at: list[float] = []
    for _ in range(120):  # two simulated hours, a 401 every minute
        before = zoho.refreshes
        try:
            token = manager.get_access_token(cid)
            manager.invalidate(cid, token.token)
        except TokenUnavailableError as exc:
            assert exc.retry_after is not None and exc.retry_after > 0
        if zoho.refreshes > before:
            minted_at.append(clock())
        clock.advance(60)
    for start in minted_at:
        assert sum(start <= t < start + 600 for t in minted_at) <= 10
    assert len(minted_at) >= 15  # it does keep refreshing when the window allows
    assert vault.mints_since(cid, at(make_manager, -600)) <= 10


def test_s33_budget_counted_by_other_workers_is_respected(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=1)
    vault, clock = make_manager.vault, make_manager.clock
    for i in range(10):  # ten mints by other processes, one every 30 s, the oldest 400 s ago
        vault.record_mint(cid, datetime.fromtimestamp(clock() - 400 + 30 * i, UTC))
    with pytest.raises(TokenUnavailableError) as info:
        make_manager().get_access_token(cid)
    assert make_manager.zoho.refreshes == 0
    assert info.value.retry_after == pytest.approx(200, abs=2)  # when the oldest ages out


def test_s35_invalidate_forces_one_refresh_only_for_the_stored_token(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=3000)
    manager = make_manager()
    manager.invalidate(cid, "1000.not.stored")
    assert manager.get_access_token(cid).token == make_manager.old_access
    assert make_manager.zoho.refreshes == 0
    manager.invalidate(cid, make_manager.old_access)
    fresh = manager.get_access_token(cid)
    assert fresh.token == make_manager.zoho.minted[0]
    manager.invalidate(cid, make_manager.old_access)  # a late 401 for the old token
    assert manager.get_access_token(cid).token == fresh.token
    assert make_manager.zoho.refreshes == 1


def test_s35_many_callers_reporting_the_same_401_cause_one_refresh(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=3000)
    manager = make_manager()
    barrier = threading.Barrier(20)
    tokens: list[str] = []

    def caller() -> None:
        barrier.wait()
        manager.invalidate(cid, make_manager.old_access)
        tokens.append(manager.get_access_token(cid).token)

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert make_manager.zoho.refreshes == 1 and set(tokens) == {make_manager.zoho.minted[0]}


def test_refresh_goes_to_the_connections_own_datacenter(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=10)
    make_manager().get_access_token(cid)
    (request,) = make_manager.zoho.requests
    assert str(request.url) == "https://accounts.zoho.eu/oauth/v2/token"
    assert b"grant_type=refresh_token" in request.content


@pytest.mark.anyio
async def test_async_manager_shares_the_sync_one(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=10)
    manager = AsyncTokenManager(make_manager())
    token = await manager.get_access_token(cid)
    assert token.token == make_manager.zoho.minted[0]
    await manager.invalidate(cid, token.token)
    assert (await manager.get_access_token(cid)).token == make_manager.zoho.minted[1]
    assert timedelta(0) < token.expires_at - at(make_manager, 0)
