"""Integration tests (sandbox on a real port with its scripted delays, real SQLite vault, the real
``OAuthClient``; the manager's clock and sleep injected): a caller that refreshes spends at most
``MAX_LOCK_WAIT`` (10 s) in all (issue 9). The retries stop when the next one would start past the
bound, and each attempt's timeout is what remains of it, so a slow Zoho makes the caller answer
with the current token while it lives, else ``TokenUnavailableError`` with ``retry_after``.

No timing is asserted: the tests assert which attempts Zoho saw, how many mints were counted
before asking (SECURITY 33) and what the caller got. The sandbox's second answer is held 5 s;
the client's own timeout (10 s) would wait for it and get a new token, the bound (0.4 s left)
does not.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from flows import Connected, connected
from support import Clock
from zoho_invoice import TokenManager, TokenUnavailableError, Vault
from zoho_invoice.oauth import OAuthClient
from zoho_invoice.tokens import Backoff
from zoho_invoice.tokens._manager import MAX_LOCK_WAIT
from zoho_invoice_sandbox import Fault

LIFETIME = 3600.0
#: The back-off after the first failed attempt: the second starts 0.4 s before the bound.
FIRST_WAIT = MAX_LOCK_WAIT - 0.4
HELD = 5.0  # the sandbox holds the second answer this long: longer than what remains


def _refresh_attempts(connection: Connected) -> int:
    return connection.refresh_grants()


def _manager(connection: Connected, clock: Clock, vault: Vault) -> TokenManager:
    return TokenManager(
        vault,
        OAuthClient.from_settings(connection.settings),
        clock=clock,
        sleep=clock.sleep,
        # equal jitter pinned: the wait after attempt 1 is exactly FIRST_WAIT
        backoff=Backoff(initial=2 * FIRST_WAIT, maximum=2 * FIRST_WAIT, jitter=lambda: 0.0),
        retry_attempts=5,  # more than fit: the bound, not the count, stops them
        lock_lease=600.0,  # the lease would allow minutes: the request's bound decides
    )


def _script_slow_zoho(connection: Connected) -> None:
    faults = connection.sandbox.world.faults
    faults.add("accounts.token", Fault(status=503, body={"error": "busy"}), times=1)
    faults.add("accounts.token", Fault(status=None, delay=HELD), times=1)


@pytest.mark.parametrize(
    ("life_left", "expect_current"),
    [(100.0, True), (-10.0, False)],
    ids=["token_still_lives", "token_expired"],
)
def test_s30_a_refreshing_caller_spends_at_most_the_request_bound(
    tmp_path: Path, life_left: float, expect_current: bool
) -> None:
    with connected(tmp_path) as connection:
        vault = Vault.from_settings(connection.settings)
        try:
            stored = vault.load_tokens(connection.connection_id)
            assert stored.access_expires_at is not None
            clock = Clock(stored.access_expires_at.timestamp() - life_left)
            mints_before = vault.mints_since(connection.connection_id, 0.0)
            attempts_before = _refresh_attempts(connection)
            _script_slow_zoho(connection)
            manager = _manager(connection, clock, vault)

            if expect_current:
                token = manager.get_access_token(connection.connection_id)
                # Inside the leeway but alive: the caller keeps the current token.
                assert token.token == stored.access_token
            else:
                with pytest.raises(TokenUnavailableError) as raised:
                    manager.get_access_token(connection.connection_id)
                assert raised.value.retry_after is not None and raised.value.retry_after >= 1.0

            # Two attempts, not five: the 503, then one whose timeout was the 0.4 s left (the
            # client's 10 s would have waited the 5 s out and got a token); a third would have
            # started past the bound.
            assert _refresh_attempts(connection) - attempts_before == 2
            assert clock.now - (stored.access_expires_at.timestamp() - life_left) == pytest.approx(
                FIRST_WAIT
            )
            # Both were counted before Zoho was asked (the 503 minted nothing, yet it is
            # counted until an answer says so; the held one may have minted).
            assert vault.mints_since(connection.connection_id, 0.0) - mints_before == 2
            assert vault.load_tokens(connection.connection_id).version == stored.version
        finally:
            vault.close()


def test_a_caller_whose_lock_wait_used_the_bound_does_not_refresh(tmp_path: Path) -> None:
    """The bound covers the wait for the lock too: a caller that got the lock with less than a
    moment left answers at once (current token, or 503 later) and asks Zoho nothing."""
    with connected(tmp_path) as connection:
        vault = Vault.from_settings(connection.settings)
        try:
            stored = vault.load_tokens(connection.connection_id)
            assert stored.access_expires_at is not None
            clock = Clock(stored.access_expires_at.timestamp() - 100.0)
            attempts_before = _refresh_attempts(connection)

            class SlowLock:
                """The shared lock, granted only once the request's time is spent."""

                def __init__(self) -> None:
                    self.inner = vault.refresh_locks()

                def acquire(
                    self, key: str, *, lease_seconds: float, wait_seconds: float
                ) -> AbstractContextManager[bool]:
                    clock.advance(MAX_LOCK_WAIT - 0.1)
                    return self.inner.acquire(
                        key, lease_seconds=lease_seconds, wait_seconds=wait_seconds
                    )

            manager = TokenManager(
                vault,
                OAuthClient.from_settings(connection.settings),
                clock=clock,
                sleep=clock.sleep,
                locks=SlowLock(),
            )
            token = manager.get_access_token(connection.connection_id)
            assert token.token == stored.access_token
            assert _refresh_attempts(connection) == attempts_before
        finally:
            vault.close()
