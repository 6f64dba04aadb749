"""Integration tests of TokenManager against the real Vault on SQLite and a MockTransport Zoho:
a refused refresh cannot mark a reconnect's new tokens (SECURITY 28, 34), and every refresh
attempt is counted against Zoho's 10 per 10 minutes, even one whose answer was lost (33)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokens._support import Manager
from zoho_invoice import TokenUnavailableError
from zoho_invoice._http import httpx
from zoho_invoice.oauth import TokenSet

NEW_ACCESS = "1000.99999999999999999999999999999999.88888888888888888888888888888888"
NEW_REFRESH = "1000.ccccddddeeeeffff0000111122223333.4444555566667777888899990000aaaa"


def since(manager: Manager, seconds: float) -> datetime:
    return datetime.fromtimestamp(manager.clock() - seconds, UTC)


def test_s28_refresh_refused_after_a_reconnect_keeps_the_new_connection(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=10)
    vault, clock = make_manager.vault, make_manager.clock

    def reconnect_then_refuse(request: httpx.Request) -> httpx.Response:
        # While the refresh with the old token is in flight, the user reconnects: the new tokens
        # are stored and the old refresh token is revoked, so Zoho answers invalid_code.
        vault.save_connection(
            owner="tenant-1",
            location="eu",
            api_domain="https://www.zohoapis.eu",
            scopes=["ZohoInvoice.invoices.READ"],
            tokens=TokenSet(
                access_token=NEW_ACCESS,
                refresh_token=NEW_REFRESH,
                expires_at=datetime.fromtimestamp(clock(), UTC) + timedelta(hours=1),
                api_domain="https://www.zohoapis.eu",
                token_type="Bearer",
                scope=None,
            ),
        )
        return httpx.Response(200, json={"error": "invalid_code"})

    make_manager.zoho.script.append(reconnect_then_refuse)
    manager = make_manager()
    token = manager.get_access_token(cid)
    assert token.token == NEW_ACCESS
    connection = vault.get_connection(cid)
    assert connection.status == "active"
    assert connection.status_reason is None
    assert [e.type for e in make_manager.events] == []
    assert manager.get_access_token(cid).token == NEW_ACCESS
    assert make_manager.zoho.refreshes == 1


def test_s28_refresh_refused_without_a_reconnect_still_needs_reauth(
    make_manager: Manager,
) -> None:
    cid = make_manager.save(expires_in=10)
    make_manager.zoho.script.append(make_manager.error("invalid_code"))
    with pytest.raises(Exception, match="connect again"):
        make_manager().get_access_token(cid)
    assert make_manager.vault.get_connection(cid).status == "needs_reauth"
    assert [e.type for e in make_manager.events] == ["connection.needs_reauth"]


def test_s33_an_attempt_whose_answer_was_lost_still_counts(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=1)
    zoho = make_manager.zoho

    def minted_then_lost(request: httpx.Request) -> httpx.Response:
        zoho.ok(request)  # Zoho minted a token; the answer never arrives
        raise httpx.ReadTimeout("timed out", request=request)

    zoho.script.extend([minted_then_lost] * 3)
    with pytest.raises(TokenUnavailableError):
        make_manager().get_access_token(cid)
    assert len(zoho.minted) == 3
    assert make_manager.vault.mints_since(cid, since(make_manager, 600)) == 3


def test_s33_a_refusal_from_zoho_is_not_counted(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=1)
    make_manager.zoho.script.append(
        make_manager.error("Access Denied", error_description="too many requests")
    )
    with pytest.raises(TokenUnavailableError):
        make_manager(throttle_backoff=60.0).get_access_token(cid)
    assert make_manager.vault.mints_since(cid, since(make_manager, 600)) == 0


def test_s33_a_successful_refresh_counts_once(make_manager: Manager) -> None:
    cid = make_manager.save(expires_in=1)
    token = make_manager().get_access_token(cid)
    assert token.token == make_manager.zoho.minted[0]
    assert make_manager.vault.mints_since(cid, since(make_manager, 600)) == 1
