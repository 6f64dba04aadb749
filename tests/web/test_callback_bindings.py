"""Integration tests: each flow has its own browser binding (SECURITY 16, 46), and a request of
the browser routes that fails its checks writes nothing and takes no write lock (SECURITY 51).

The service app with a real Vault on SQLite and the sandbox playing Zoho in process. What the
vault sends to the database is watched on its engine: SQLite's ``BEGIN IMMEDIATE`` takes the
write lock, ``BEGIN`` (a read) does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from zoho_invoice_sandbox import Fault

BOB = "bob@bluebird.example"
ALICE = "alice@acme.example"


def _put_cookie(harness, name: str, value: str) -> None:
    """Set the browser's cookie ``name`` to ``value`` (replacing the one the service set)."""
    harness.web.cookies.delete(name)
    harness.web.cookies.set(name, value, path="/callback")


def test_s46_a_stray_callback_leaves_the_flow_in_progress_alone(harness) -> None:
    url = harness.consent(harness.start(), BOB)
    stray = harness.web.get("/callback?state=junk&code=junk", follow_redirects=False)
    assert stray.status_code == 400
    assert "set-cookie" not in stray.headers  # no Max-Age=0 for anyone's binding
    assert harness.binding_for(url)
    assert harness.callback(url).status_code == 200
    assert len(harness.vault.list_connections()) == 1


def test_s46_a_forged_callback_with_the_real_state_does_not_clear_its_binding(harness) -> None:
    url = harness.consent(harness.start(), BOB)
    state = harness.params(url)["state"]
    # Another browser's binding under this flow's name is refused, and consumes nothing.
    name = harness.binding_cookie_for(url)
    real = harness.binding_for(url)
    _put_cookie(harness, name, "forged-" + "x" * 40)
    forged = harness.web.get(f"/callback?state={state}&code=junk", follow_redirects=False)
    assert forged.status_code == 400
    assert "set-cookie" not in forged.headers
    _put_cookie(harness, name, real)
    assert harness.callback(url).status_code == 200


def test_s46_two_flows_started_in_one_browser_both_complete(harness) -> None:
    first = harness.start(owner="tenant-a")
    second = harness.start(owner="tenant-b")
    assert harness.binding_cookie_for(first) != harness.binding_cookie_for(second)
    first_back = harness.consent(first, BOB)
    second_back = harness.consent(second, ALICE)
    # The later tab finishes first; the earlier one still completes.
    assert harness.callback(second_back).status_code == 200
    assert harness.binding_for(second_back) is None  # its own binding is spent ...
    assert harness.binding_for(first_back)  # ... the other tab's is untouched
    assert harness.callback(first_back).status_code == 200
    owners = sorted(c.owner for c in harness.vault.list_connections())
    assert owners == ["tenant-a", "tenant-b"]


def test_s46_another_tabs_failed_callback_clears_only_its_own_binding(harness) -> None:
    first_back = harness.consent(harness.start(owner="tenant-a"), BOB)
    second_back = harness.consent(harness.start(owner="tenant-b"), ALICE)
    harness.world.faults.add("accounts.token", Fault(status=503, body=None))
    failed = harness.callback(second_back)  # consumed, then Zoho failed
    assert failed.status_code == 400
    assert harness.binding_cookie_for(second_back) in failed.headers["set-cookie"]
    assert harness.binding_for(second_back) is None
    assert harness.callback(first_back).status_code == 200


@contextmanager
def _statements(harness) -> Iterator[list[str]]:
    """Every statement the vault sends to its database meanwhile (upper-cased)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.strip().upper())

    engine = harness.vault.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _assert_read_only(seen: list[str]) -> None:
    assert seen, "the check reads the database"
    writes = [s for s in seen if s.startswith(("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def test_s51_a_callback_that_fails_its_checks_writes_nothing_and_takes_no_write_lock(
    harness,
) -> None:
    url = harness.consent(harness.start(), BOB)
    state = harness.params(url)["state"]
    name = harness.binding_cookie_for(url)
    real = harness.binding_for(url)
    with _statements(harness) as seen:
        # An unknown state, with a cookie under its name.
        _put_cookie(harness, harness.binding_cookie_for(url.replace(state, "y" * 43)), "z")
        assert _callback(harness, "y" * 43).status_code == 400
        # The real state with another browser's binding.
        _put_cookie(harness, name, "b" * 43)
        assert _callback(harness, state).status_code == 400
    _assert_read_only(seen)
    # Its own browser still finishes, and that one does write.
    _put_cookie(harness, name, real)
    with _statements(harness) as seen:
        assert harness.callback(url).status_code == 200
    assert any(s.startswith("BEGIN IMMEDIATE") for s in seen)
    # A replay of the finished flow is refused by a read too.
    _put_cookie(harness, name, real)
    with _statements(harness) as seen:
        assert harness.callback(url).status_code == 400
    _assert_read_only(seen)


def _callback(harness, state: str) -> Any:
    return harness.web.get(f"/callback?state={state}&code=c", follow_redirects=False)


def test_s51_a_connect_link_that_fails_its_checks_writes_nothing(timed_harness, clock) -> None:
    harness = timed_harness
    used = harness.connect_url(owner="tenant-a")
    expired = harness.connect_url(owner="tenant-b")
    assert harness.web.get(used, follow_redirects=False).status_code == 303
    clock.advance(601)
    with _statements(harness) as seen:
        for link in ("/connect/" + "A" * 43, used, expired):
            response = harness.web.get(link, follow_redirects=False)
            assert response.status_code == 400
            assert "set-cookie" not in response.headers
    _assert_read_only(seen)
