"""Integration tests: a connection belongs to one Zoho user (SECURITY 34, 44).

The service app with a real Vault on SQLite and the sandbox playing Zoho Accounts and the Invoice
API in process. The owner ``swap`` connects as one simulated Zoho user; a new connect link for
``swap`` is then finished by another. Who signed in is told by Zoho Invoice's ``GET /users/me``.
"""

from __future__ import annotations

from sqlalchemy import text

from web._harness import Harness
from zoho_invoice.vault import Connection
from zoho_invoice_sandbox import Fault

ALICE = "alice@acme.example"
BOB = "bob@bluebird.example"


def _connections(harness: Harness, owner: str = "swap") -> dict[str, Connection]:
    return {c.id: c for c in harness.vault.list_connections(owner=owner)}


def _refresh_token(harness: Harness, connection_id: str) -> str:
    token = harness.vault.load_tokens(connection_id).refresh_token
    assert token is not None
    return token


def _live(harness: Harness, refresh_token: str) -> int:
    return int(harness.world.accounts.stats(refresh_token)["live_refresh_tokens"])


def test_s44_another_zoho_user_finishing_a_reconnect_link_makes_a_new_connection(
    harness,
) -> None:
    alice, bob = harness.user(ALICE), harness.user(BOB)
    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    [alices] = _connections(harness).values()
    harness.vault.set_organization(alices.id, alice.organization_ids[1])
    alices_token = _refresh_token(harness, alices.id)

    # A new connect link for the same owner, forwarded and finished by Bob.
    response = harness.connect(owner="swap", email=BOB)
    assert response.status_code == 200, response.text

    connections = _connections(harness)
    assert len(connections) == 2
    kept = connections[alices.id]
    [bobs] = [c for c in connections.values() if c.id != alices.id]
    # Alice's connection keeps her tokens, her organization and her user.
    assert kept.zoho_user_id == alice.user_id
    assert kept.organization_id == alice.organization_ids[1]
    assert kept.status == "active"
    assert _refresh_token(harness, alices.id) == alices_token
    assert _live(harness, alices_token) == 1  # not revoked: it is still Alice's connection
    assert harness.world.journal.entries("accounts.revoke") == []
    # Bob's login is a connection of its own, announced as created.
    assert bobs.zoho_user_id == bob.user_id
    assert bobs.organization_id == bob.organization_ids[0]
    assert [(e.type, e.connection_id) for e in harness.events] == [
        ("connection.created", alices.id),
        ("connection.created", bobs.id),
    ]
    # Each connection's token reaches its own user's organizations only.
    with harness.app.state.context.invoice_client(alices.id) as client:
        assert client.users.me().user_id == alice.user_id
    with harness.app.state.context.invoice_client(bobs.id) as client:
        assert client.users.me().user_id == bob.user_id


def test_s34_s44_the_same_user_reconnecting_keeps_the_id_and_the_old_token_is_revoked(
    harness,
) -> None:
    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    [first] = _connections(harness).values()
    old_token = _refresh_token(harness, first.id)

    assert harness.connect(owner="swap", email=ALICE).status_code == 200

    [again] = _connections(harness).values()
    assert again.id == first.id
    assert again.zoho_user_id == harness.user(ALICE).user_id
    new_token = _refresh_token(harness, first.id)
    assert new_token != old_token
    # The background revocation ran after the answer: the old token is dead at Zoho.
    assert _live(harness, old_token) == 0
    assert _live(harness, new_token) == 1
    assert [e.type for e in harness.events] == ["connection.created", "connection.reconnected"]


def _assert_refused_and_given_back(harness, response, *words: str) -> None:
    assert response.status_code == 400, response.text
    assert harness.vault.list_connections() == []
    text_ = " ".join(response.text.split())
    for word in words:
        assert word in text_, word
    [mint] = [e for e in harness.token_requests() if ("grant_type", "authorization_code") in e.form]
    assert mint is not None
    [revoke] = harness.world.journal.entries("accounts.revoke")
    assert revoke.path.startswith("/accounts/us/")
    assert harness.world.accounts.stats()["live_refresh_tokens"] == 0
    assert harness.events == []


def test_s44_a_login_zoho_cannot_identify_is_refused_and_its_token_given_back(harness) -> None:
    refusal = {"code": 57, "message": "You are not authorized to perform this operation"}
    harness.world.faults.add("invoice.GET /users/me", Fault(status=401, body=refusal))
    response = harness.connect(owner="swap", email=ALICE)
    _assert_refused_and_given_back(harness, response, "did not say who signed in")


def test_s44_organizations_that_cannot_be_read_refuse_the_login(harness) -> None:
    refusal = {"code": 57, "message": "You are not authorized to perform this operation"}
    harness.world.faults.add("invoice.GET /organizations", Fault(status=401, body=refusal))
    response = harness.connect(owner="swap", email=BOB)
    _assert_refused_and_given_back(harness, response, "did not say who signed in")


def test_s44_an_account_without_an_organization_is_refused_clearly(harness) -> None:
    empty = {"code": 0, "message": "success", "organizations": []}
    harness.world.faults.add("invoice.GET /organizations", Fault(status=200, body=empty))
    response = harness.connect(owner="swap", email=BOB)
    _assert_refused_and_given_back(harness, response, "no Zoho Invoice organization")


def _make_legacy(harness, connection_id: str) -> None:
    """Forget the connection's Zoho user, as a row written before migration 0003."""
    with harness.vault.engine.begin() as conn:
        conn.execute(
            text("UPDATE connections SET zoho_user_id = NULL WHERE id = :id"),
            {"id": connection_id},
        )


def test_s44_a_connection_without_a_recorded_user_goes_only_to_its_own_user(harness) -> None:
    alice = harness.user(ALICE)
    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    [legacy] = _connections(harness).values()
    _make_legacy(harness, legacy.id)
    alices_token = _refresh_token(harness, legacy.id)

    # Bob cannot take it over: its own token says it is Alice's, so Bob gets a new one.
    assert harness.connect(owner="swap", email=BOB).status_code == 200
    connections = _connections(harness)
    assert len(connections) == 2
    assert connections[legacy.id].zoho_user_id is None
    assert _refresh_token(harness, legacy.id) == alices_token

    # Alice's reconnect claims it: same id, her user recorded, her old token revoked.
    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    connections = _connections(harness)
    assert len(connections) == 2
    assert connections[legacy.id].zoho_user_id == alice.user_id
    assert _live(harness, alices_token) == 0
    assert [e.type for e in harness.events] == [
        "connection.created",
        "connection.created",
        "connection.reconnected",
    ]


def test_s44_a_legacy_connection_whose_token_is_dead_is_left_alone(harness) -> None:
    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    [legacy] = _connections(harness).values()
    _make_legacy(harness, legacy.id)
    harness.vault.disconnect(legacy.id)  # no token left to prove whose it is

    assert harness.connect(owner="swap", email=ALICE).status_code == 200
    connections = _connections(harness)
    assert len(connections) == 2
    assert connections[legacy.id].status == "revoked"
    assert connections[legacy.id].zoho_user_id is None
