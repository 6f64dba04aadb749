"""Integration tests: the connect flow against Zoho Accounts' per-user limit on refresh tokens,
played by the sandbox (docs/zoho/accounts.md)."""

from __future__ import annotations


def test_s32_refresh_token_limit_at_the_exchange_is_a_clear_page_and_stores_nothing(
    harness,
) -> None:
    """Zoho issues a user at most 10 refresh tokens per client in 10 minutes (here 2, so the test
    stays short); beyond, the code exchange answers "Access Denied" with HTTP 200."""
    settings = harness.world.settings
    settings.refresh_token_limit, settings.authorization_code_limit = 2, 0
    for number in range(2):
        assert harness.connect(f"tenant-{number}").status_code == 200
    answer = harness.connect("tenant-late")
    assert answer.status_code == 400
    assert "Zoho is limiting token requests" in answer.text
    assert "connect again" in answer.text
    [refused] = harness.token_requests()[2:]
    assert ("grant_type", "authorization_code") in refused.form
    assert harness.vault.list_connections(owner="tenant-late") == []
    assert harness.world.accounts.stats()["live_refresh_tokens"] == 2
