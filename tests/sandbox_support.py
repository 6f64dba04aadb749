"""Helpers for tests of the sandbox's Invoice API in process: ``from sandbox_support import ...``.

Access tokens come straight from the world's Accounts (a code, then its exchange), without the
HTTP round trips of the consent flow."""

from __future__ import annotations

from collections.abc import Sequence

from zoho_invoice_sandbox import SandboxWorld

ALICE = "alice@acme.example"
#: The clock of the in-process Invoice API tests (tests/sandbox/conftest.py).
NOW = 1_790_000_000.0  # 2026-09-21T13:33:20Z
FULL_ACCESS = ("ZohoInvoice.fullaccess.all",)


def mint(
    world: SandboxWorld, email: str, scopes: Sequence[str], location: str | None = None
) -> str:
    """An access token of the user with ``email`` for ``scopes``, at their DC or ``location``."""
    user = world.directory.user_by_email(email)
    assert user is not None
    code = world.accounts.create_code(
        client_id="1000.TEST",
        redirect_uri="http://app.example/cb",
        scopes=list(scopes),
        user_id=user.user_id,
        location=location or user.location,
        challenge=None,
        challenge_method=None,
        offline=False,
        force_consent=False,
        throttle=False,  # a token for a test, not Zoho's authorize step with its code limit
    )
    minted = world.accounts.exchange_code(
        location=location or user.location,
        client_id="1000.TEST",
        client_secret="secret",
        code=code,
        redirect_uri="http://app.example/cb",
        code_verifier="",
    )
    return minted.access_token


def alice_headers(
    world: SandboxWorld, *, scopes: Sequence[str] = FULL_ACCESS, org_index: int = 0
) -> dict[str, str]:
    """The headers of an Invoice API call by alice (us) for one of her organizations."""
    alice = world.directory.user_by_email(ALICE)
    assert alice is not None
    return {
        "Authorization": f"Zoho-oauthtoken {mint(world, ALICE, scopes)}",
        "X-com-zoho-invoice-organizationid": alice.organization_ids[org_index],
    }
