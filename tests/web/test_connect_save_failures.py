"""A connection Zoho authorized but the vault could not store gives its tokens back (SECURITY 34).

The service app with a real Vault on SQLite and the sandbox playing Zoho. The vault object
given to ``create_app`` has its ``save_connection`` replaced on that instance (the seam: no
module global is patched) by one that fails the way a real store can: a lost race on the
unique key (SQLAlchemy's ``IntegrityError``), an input the vault refuses, a bug. (A database
gone answers 503 and gives the tokens back too, as before.)
The refresh token Zoho just minted would otherwise use up one of the user's 20 for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from zoho_invoice._exceptions import InvalidVaultInputError
from zoho_invoice_sandbox import Fault

ALICE = "alice@acme.example"


def _failing_save(harness: Any, error: Exception) -> list[str]:
    """Make the app's vault fail to save; returns the refresh tokens it was asked to store."""
    offered: list[str] = []

    def save_connection(**kwargs: Any) -> Any:
        offered.append(kwargs["tokens"].refresh_token)
        raise error

    harness.vault.save_connection = save_connection
    return offered


FAILURES: dict[str, Callable[[], Exception]] = {
    "integrity": lambda: IntegrityError("INSERT INTO connections ...", {}, Exception("unique")),
    "invalid-input": lambda: InvalidVaultInputError("owner is not valid"),
    "unexpected": lambda: RuntimeError("a bug in the store"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_s34_a_connection_that_cannot_be_saved_revokes_its_new_refresh_token(
    harness: Any, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    offered = _failing_save(harness, FAILURES[failure]())

    response = harness.connect(owner="swap", email=ALICE)

    assert response.status_code == 500, response.text
    page = " ".join(response.text.split())
    assert "could not be saved" in page
    assert "Nothing was connected" in page
    [minted] = offered
    assert minted and minted not in response.text
    [revoke] = harness.world.journal.entries("accounts.revoke")
    assert minted in str(revoke.to_json())
    assert harness.world.accounts.stats(minted)["live_refresh_tokens"] == 0
    assert harness.vault.due_revocations(now=4102444800) == []  # revoked, so nothing queued
    assert harness.events == []
    assert minted not in caplog.text


def test_s34_a_token_zoho_cannot_revoke_now_is_queued_for_the_revocation_worker(
    harness: Any,
) -> None:
    offered = _failing_save(harness, InvalidVaultInputError("owner is not valid"))
    harness.world.faults.add("accounts.revoke", Fault(status=503, body={"error": "busy"}))

    response = harness.connect(owner="swap", email=ALICE)

    assert response.status_code == 500, response.text
    [minted] = offered
    [queued] = harness.vault.due_revocations(now=4102444800)
    assert queued.token == minted
    assert minted not in response.text
