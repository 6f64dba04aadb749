"""Unit tests (real Vault on SQLite, fake Zoho): the worker's background refresh keeps tokens
fresh ahead of expiry and finds dead connections early (SECURITY 31)."""

from __future__ import annotations

from tokens._support import Manager
from zoho_invoice.tokens import refresh_expiring


def test_refreshes_only_what_ends_within_the_leeway(make_manager: Manager) -> None:
    soon = make_manager.save(expires_in=200, owner="soon")
    later = make_manager.save(expires_in=3000, owner="later")
    manager = make_manager(leeway=600)
    done = refresh_expiring(manager, make_manager.vault, clock=make_manager.clock)
    assert (done.refreshed, done.needs_reauth, done.unavailable) == (1, 0, 0)
    assert make_manager.zoho.refreshes == 1
    assert make_manager.vault.load_tokens(soon).access_token != make_manager.old_access
    assert make_manager.vault.load_tokens(later).access_token == make_manager.old_access
    # The next round finds nothing to do.
    again = refresh_expiring(manager, make_manager.vault, clock=make_manager.clock)
    assert again.refreshed == 0 and make_manager.zoho.refreshes == 1


def test_s31_a_revoked_refresh_token_is_found_and_announced(make_manager: Manager) -> None:
    dead = make_manager.save(expires_in=10)
    make_manager.zoho.script.append(make_manager.error("invalid_code"))
    done = refresh_expiring(make_manager(leeway=600), make_manager.vault, clock=make_manager.clock)
    assert done.needs_reauth == 1
    assert make_manager.vault.get_connection(dead).status == "needs_reauth"
    assert [e.type for e in make_manager.events] == ["connection.needs_reauth"]
    # Marked connections are not tried again.
    refresh_expiring(make_manager(leeway=600), make_manager.vault, clock=make_manager.clock)
    assert make_manager.zoho.refreshes == 1
