"""Unit tests: the sandbox's shared world (directory, fault script, journal, accounts store)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from support import Clock
from zoho_invoice_sandbox import Directory, Fault, SandboxWorld
from zoho_invoice_sandbox._store import OAuthFailure
from zoho_invoice_sandbox._world import JOURNAL_ENTRIES, JOURNAL_ENTRY_TEXT
from zoho_invoice_sandbox.invoice import seed_organization
from zoho_invoice_sandbox.invoice._resources import INVOICES

CLIENT = "1000.WORLDCLIENT"


def grant_code(world: SandboxWorld, email: str = "alice@acme.example") -> str:
    user = world.directory.user_by_email(email)
    assert user is not None
    return world.accounts.create_code(
        client_id=CLIENT,
        redirect_uri="http://app.test/cb",
        scopes=["ZohoInvoice.invoices.READ"],
        user_id=user.user_id,
        location=user.location,
        challenge=None,
        challenge_method=None,
        offline=True,
        force_consent=True,
    )


def exchange(world: SandboxWorld, code: str, location: str = "us") -> tuple[str, str | None]:
    minted = world.accounts.exchange_code(
        location=location,
        client_id=CLIENT,
        client_secret="secret",
        code=code,
        redirect_uri="http://app.test/cb",
        code_verifier="",
    )
    return minted.access_token, minted.refresh_token


def test_directory_spreads_users_over_the_data_centres() -> None:
    directory = Directory.default()
    locations = {user.location for user in directory.users}
    assert {"us", "eu", "in", "au", "cn", "ca"} <= locations
    owners_of_two = [u for u in directory.users if len(directory.organizations_for(u.user_id)) == 2]
    assert len(owners_of_two) >= 2
    for user in directory.users:
        for org in directory.organizations_for(user.user_id):
            assert org.owner_user_id == user.user_id
            assert org.location == user.location


def test_directory_ids_are_deterministic_long_numeric_strings() -> None:
    first, second = Directory.default(), Directory.default()
    assert first.users == second.users and first.organizations == second.organizations
    ids = [org.organization_id for org in first.organizations]
    assert len(set(ids)) == len(ids)
    for org_id in ids:
        assert org_id.isdigit() and int(org_id) > 2**53
    assert len({user.user_id for user in first.users}) == len(first.users)


def test_directory_lookups() -> None:
    directory = Directory.default()
    alice = directory.user_by_email("ALICE@acme.example")
    assert alice is not None and directory.user(alice.user_id) == alice
    assert [org.name for org in directory.organizations_for(alice.user_id)] == [
        "Acme Corp",
        "Acme Labs",
    ]
    assert directory.organizations_for("nobody") == []
    assert directory.user("nobody") is None
    assert all(user.location == "eu" for user in directory.users_in("eu"))
    org = directory.organizations_for(alice.user_id)[0]
    assert directory.organization(org.organization_id) == org


def test_fault_script_counts_matches_patterns_and_keeps_order() -> None:
    world = SandboxWorld(base_url="http://sandbox.test")
    assert world.faults.take("accounts.token") is None
    world.faults.add("invoice.*", Fault(status=429, body={"code": 44}), times=2)
    world.faults.add("invoice.GET /invoices", Fault(status=500))
    assert world.faults.take("accounts.token") is None
    first = world.faults.take("invoice.GET /invoices")
    second = world.faults.take("invoice.POST /contacts")
    assert first is not None and first.status == 429
    assert second is not None and second.body == {"code": 44}
    third = world.faults.take("invoice.GET /invoices")
    assert third is not None and third.status == 500
    assert world.faults.take("invoice.GET /invoices") is None
    with pytest.raises(ValueError):
        world.faults.add("accounts.token", Fault(), times=0)


def test_journal_records_with_the_world_clock_and_filters() -> None:
    clock = Clock(1_800_000_000.0)
    world = SandboxWorld(base_url="http://sandbox.test", clock=clock)
    world.journal.record(
        endpoint="accounts.token",
        method="post",
        path="/accounts/us/oauth/v2/token",
        form=[("client_secret", "x")],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    clock.now += 5
    world.journal.record(endpoint="invoice.GET /invoices", method="GET", path="/api/us/x")
    entries = world.journal.entries()
    assert [e.endpoint for e in entries] == ["accounts.token", "invoice.GET /invoices"]
    assert entries[0].method == "POST" and entries[0].at == 1_800_000_000.0
    assert entries[1].at == 1_800_000_005.0
    assert entries[0].headers == {"content-type": "application/x-www-form-urlencoded"}
    assert [e.endpoint for e in world.journal.entries("accounts.*")] == ["accounts.token"]
    assert world.journal.entries("invoice.GET /invoices")[0].path == "/api/us/x"


def test_s51_journal_keeps_the_newest_entries_cut_short() -> None:
    """A client sending many or large requests cannot grow the journal without bound."""
    world = SandboxWorld(base_url="http://sandbox.test", clock=Clock(1_800_000_000.0))
    for number in range(JOURNAL_ENTRIES + 500):
        world.journal.record(endpoint="accounts.token", method="POST", path=f"/{number}")
    entries = world.journal.entries()
    assert len(entries) == JOURNAL_ENTRIES
    assert [entries[0].path, entries[-1].path] == ["/500", f"/{JOURNAL_ENTRIES + 499}"]
    assert entries[-1].seq == world.journal.total == JOURNAL_ENTRIES + 500

    huge = world.journal.record(
        endpoint="accounts.token",
        method="POST",
        path="/big",
        form=[("client_secret", "s" * 1_000_000), *[("k", "v")] * 10_000],
        headers={"authorization": "Zoho-oauthtoken 1000.abc"},
        body="b" * 1_000_000,
    )
    kept = sum(len(k) + len(v) for k, v in huge.form) + len(huge.body)
    assert kept <= JOURNAL_ENTRY_TEXT and huge.truncated
    assert len(huge.form) <= 64
    # What says who called comes first and is kept whole.
    assert huge.headers == {"authorization": "Zoho-oauthtoken 1000.abc"}
    small = world.journal.record(endpoint="x", method="GET", path="/", form=[("a", "b")])
    assert not small.truncated and small.form == [("a", "b")]


def test_authenticate_knows_live_tokens_only() -> None:
    clock = Clock(1_800_000_000.0)
    world = SandboxWorld(base_url="http://sandbox.test", clock=clock)
    access, refresh = exchange(world, grant_code(world))
    grant = world.authenticate(access)
    assert grant is not None
    assert grant.scopes == frozenset({"ZohoInvoice.invoices.READ"})
    assert grant.expires_at == clock.now + 3600
    assert world.authenticate("") is None
    assert world.authenticate(access + "x") is None
    clock.now += 3600
    assert world.authenticate(access) is None
    assert refresh is not None


def test_concurrent_exchanges_of_one_code_succeed_once() -> None:
    world = SandboxWorld(base_url="http://sandbox.test")
    code = grant_code(world)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            exchange(world, code)
            results.append("ok")
        except OAuthFailure as exc:
            results.append(exc.error)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["invalid_code"] * 7 + ["ok"]


def test_reset_forgets_tokens_faults_journal_and_settings() -> None:
    world = SandboxWorld(base_url="http://sandbox.test")
    access, _ = exchange(world, grant_code(world))
    world.faults.add("accounts.token", Fault(status=503))
    world.journal.record(endpoint="accounts.token", method="POST", path="/")
    world.settings.access_token_lifetime = 5
    world.reset()
    assert world.authenticate(access) is None
    assert world.faults.take("accounts.token") is None
    assert world.journal.entries() == []
    assert world.settings.access_token_lifetime == 3600


def test_the_world_owns_its_invoice_store_and_reset_empties_it(data_dir: Path) -> None:
    """Each world has its own Invoice data (none seen through another world of the process),
    ``reset`` forgets it, ``close`` closes it; a world on the same folder finds what was kept."""
    org = "800000000001000003"
    world = SandboxWorld(base_url="http://sandbox.test", data_dir=data_dir)
    other = SandboxWorld(base_url="http://sandbox.test")
    seed_organization(world, org, contacts=2, items=1, invoices=3)
    assert world.invoices.count(INVOICES, org) == 3
    assert other.invoices.count(INVOICES, org) == 0
    world.close()
    again = SandboxWorld(base_url="http://sandbox.test", data_dir=data_dir)
    assert again.invoices.count(INVOICES, org) == 3
    again.reset()
    assert again.invoices.count(INVOICES, org) == 0
    seed_organization(again, org, contacts=1, items=1, invoices=1)  # the tables still work
    assert again.invoices.count(INVOICES, org) == 1
    again.close()
    other.close()


def test_state_survives_a_restart_with_a_data_dir(data_dir: Path) -> None:
    first = SandboxWorld(base_url="http://sandbox.test", data_dir=data_dir)
    access, refresh = exchange(first, grant_code(first, "elena@eurotech.example"), "eu")
    first.close()
    assert (data_dir / "sandbox-accounts.sqlite3").exists()

    second = SandboxWorld(base_url="http://sandbox.test", data_dir=data_dir)
    grant = second.authenticate(access)
    assert grant is not None and grant.location == "eu"
    assert refresh is not None
    minted = second.accounts.refresh(
        location="eu", client_id=CLIENT, client_secret="secret", refresh_token=refresh
    )
    assert second.authenticate(minted.access_token) is not None
    with pytest.raises(OAuthFailure) as wrong_secret:
        second.accounts.refresh(
            location="eu", client_id=CLIENT, client_secret="other", refresh_token=refresh
        )
    assert wrong_secret.value.error == "invalid_client_secret"
    second.close()


def test_without_a_data_dir_nothing_is_written(tmp_path: Path) -> None:
    world = SandboxWorld(base_url="http://sandbox.test")
    exchange(world, grant_code(world))
    assert world.data_dir is None
    assert list(tmp_path.iterdir()) == []
    again = SandboxWorld(base_url="http://sandbox.test")
    assert again.accounts.stats()["access_tokens_minted"] == 0
