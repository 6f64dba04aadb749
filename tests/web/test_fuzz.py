"""Integration test: schemathesis fuzzes the JSON API from /openapi.json (SECURITY 39) against
the service app with a real Vault (SQLite and PostgreSQL) and the in-process sandbox.

The fuzzer gets real connection ids: three connections made through the real connect flow, one
left ``active``, one marked ``needs_reauth`` (as the manager does when Zoho refuses its refresh
token) and one disconnected through the API (``revoked``). Every ``{connection_id}`` route is
fuzzed with those ids as well as with generated ones, so the requests reach the routes' own logic
instead of stopping at a 404.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Err

if TYPE_CHECKING:
    from web._harness import Harness

#: The seeded connections: status -> the Zoho user connected (each user once: Zoho issues a
#: user one refresh token per client without ``prompt=consent``, and each gets its own row).
SEEDS = {
    "active": "bob@bluebird.example",
    "needs_reauth": "alice@acme.example",
    "revoked": "franz@fischer.example",
}
CONNECTION = "/api/connections/{connection_id}"

#: The Zoho calls a *valid* request may make, by route: reading the organizations (GET
#: .../organizations, and PATCH, which checks the organization against them) and revoking the
#: refresh token of a connection being disconnected (DELETE). Nothing else may reach Zoho.
LEGITIMATE = {
    ("GET", CONNECTION + "/organizations"): "invoice.GET /organizations",
    ("PATCH", CONNECTION): "invoice.GET /organizations",
    ("DELETE", CONNECTION): "accounts.revoke",
}


@dataclass
class Seeded:
    harness: Harness
    ids: dict[str, str] = field(default_factory=dict)

    def seed(self, status: str) -> None:
        """Connect (or reconnect) the seed's user through the real flow and give it ``status``."""
        harness, owner = self.harness, f"fuzz-{status}"
        answer = harness.connect(owner, SEEDS[status])
        assert answer.status_code == 200, answer.text
        [connection] = harness.vault.list_connections(owner=owner)
        assert self.ids.setdefault(status, connection.id) == connection.id  # a reconnect keeps it
        if status == "needs_reauth":
            harness.vault.set_status(connection.id, "needs_reauth", reason="fuzz seed")
        elif status == "revoked":
            assert harness.api("DELETE", f"/api/connections/{connection.id}").status_code == 204
        assert harness.vault.get_connection(connection.id).status == status


@pytest.fixture(scope="module")
def seeded(any_db_harness: Harness) -> Iterator[Seeded]:
    seeded = Seeded(any_db_harness)
    # Every disconnect the fuzzer makes is followed by a reconnect: far more codes and refresh
    # tokens in a few minutes than Zoho issues (10 each in 10 minutes). Those limits have tests
    # of their own (tests/sandbox/test_accounts.py); here they would only stop the fuzzing.
    settings = any_db_harness.world.settings
    settings.authorization_code_limit = settings.refresh_token_limit = 0
    for status in SEEDS:
        seeded.seed(status)
    yield seeded


def _strategies(
    operation: Any, mode: GenerationMode, seeded: Seeded
) -> list[tuple[str | None, Any]]:
    """(seeded status or None, strategy of cases): one per seeded connection, so each is
    fuzzed on every ``{connection_id}`` route, and one with generated ids."""
    generated: list[tuple[str | None, Any]] = [(None, operation.as_strategy(mode))]
    if "{connection_id}" not in operation.path:
        return generated
    fixed: list[tuple[str | None, Any]] = [
        (status, operation.as_strategy(mode, path_parameters={"connection_id": cid}))
        for status, cid in seeded.ids.items()
    ]
    if operation.method.upper() == "PATCH":
        # The one valid body a fuzzer cannot guess: the active seed's own organization.
        org = seeded.harness.user(SEEDS["active"]).organization_ids[0]
        own = operation.as_strategy(
            mode,
            path_parameters={"connection_id": seeded.ids["active"]},
            body={"organization_id": org},
        )
        fixed.append(("active", own))
    return fixed + generated


def _invalid(case: Any) -> bool:
    """The case's JSON body breaks the schema (schemathesis' negative mode). A negative query
    may be sent as a valid one (an array ``["x"]`` goes on the wire as ``owner=x``), and a
    negative header is the API key that the test replaces, so only the body counts here."""
    meta = case.meta
    return meta is not None and meta.is_negative_at(ParameterLocation.BODY)


def test_s39_openapi_describes_the_api_with_bearer_auth(fuzz_harness) -> None:
    doc = fuzz_harness.web.get("/openapi.json").json()
    assert {"/api/connect-sessions", "/api/connections", "/api/connections/{connection_id}"} <= set(
        doc["paths"]
    )
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "/callback" not in doc["paths"]


def test_s39_fuzzing_with_real_connections_finds_no_5xx_and_reaches_no_zoho(
    seeded: Seeded,
) -> None:
    """Every operation, valid and invalid inputs (schemathesis' positive and negative modes),
    each case sent without the key and with it.

    "No fuzzed request reaches Zoho" is checked per request against the sandbox's journal
    (cleared before each one): tokens are fresh (an hour left, the leeway is five minutes), so no
    request may refresh, and no request may exchange a code; an invalid request (wrong key, bad
    body or query, unknown id, a connection that needs reconnecting) reaches nothing at all.
    Three routes call Zoho by design, and only for a valid request on a connection that has
    tokens: GET .../organizations and PATCH (Zoho's list of organizations, one call) and DELETE
    (one revoke of the stored refresh token). Those calls are checked to be exactly that one
    call; a disconnected seed is connected again through the real flow before fuzzing goes on.
    """
    harness, world = seeded.harness, seeded.harness.world
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    failures: list[str] = []
    # (method, path template, seeded status) -> the statuses answered with the valid key
    outcomes: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    invalid_answers: list[int] = []

    def send(status: str | None, case: Any, key: str) -> None:
        world.journal.clear()
        response = case.call(headers={"Authorization": f"Bearer {key}"})
        code = response.status_code
        where = f"{case.method} {case.formatted_path} ({status or 'generated id'})"
        reached = [entry.endpoint for entry in world.journal.entries()]
        if code >= 500:
            failures.append(f"{where}: {code} {response.text[:200]}")
        if key != harness.api_key and case.path.startswith("/api/"):
            assert code == 401, where
        if _invalid(case) and key == harness.api_key:
            invalid_answers.append(code)
            assert 400 <= code < 500, f"{where}: invalid input answered {code}"
        legitimate = LEGITIMATE.get((case.method, case.path))
        valid_call = key == harness.api_key and (
            code in (200, 204)
            or (code == 400 and response.json().get("error") == "unknown_organization")
        )
        if valid_call and legitimate is not None and reached:
            assert reached == [legitimate], f"{where}: reached {reached}"
        elif (case.method, case.path, code) == ("POST", CONNECTION + "/sync", 202):
            # A started sync reads the mirror's lists by design (in the background, done before
            # TestClient answers): Invoice API reads only, never Zoho Accounts (no refresh).
            assert key == harness.api_key and reached, where
            assert all(e.startswith("invoice.GET /") for e in reached), f"{where}: {reached}"
        else:
            assert reached == [], f"{where} ({code}) reached Zoho: {reached}"
        if key == harness.api_key and status is not None:
            outcomes[(case.method, case.path, status)].add(code)
            if case.method == "DELETE" and status != "revoked" and code == 204:
                seeded.seed(status)  # disconnected: connect it again for the next cases

    def fuzz(status: str | None, strategy: Any) -> None:
        @settings(
            max_examples=4 if status else 8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            for key in ("wrong-key", harness.api_key):
                send(status, case, key)

        run()

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the schema itself is broken: nothing to fuzz, say why
        operation = result.ok()
        # Invalid inputs where there is something to break: the JSON bodies.
        modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * bool(operation.body)
        for mode in modes:
            for status, strategy in _strategies(operation, mode, seeded):
                fuzz(status, strategy)

    assert failures == []
    # The fuzzer got past the 404: every {connection_id} route answered every seeded
    # connection with something else (200, 204, 409, 422, 400 ...).
    routes = {(m, p) for (m, p, _) in outcomes}
    # 5 of the connections API and 4 of the mirror's (POST|GET .../sync, POST|DELETE
    # .../sync/webhook-url)
    assert len(routes) == 9, routes
    for method, path in routes:
        for status in SEEDS:
            codes = outcomes[(method, path, status)]
            assert codes - {404}, f"{method} {path} on the {status} connection: {codes}"
    assert 200 in outcomes[("POST", CONNECTION + "/access-token", "active")]
    assert 409 in outcomes[("POST", CONNECTION + "/access-token", "needs_reauth")]
    assert 409 in outcomes[("POST", CONNECTION + "/access-token", "revoked")]
    assert 200 in outcomes[("GET", CONNECTION + "/organizations", "active")]
    assert 200 in outcomes[("PATCH", CONNECTION, "active")]  # its own organization
    assert 204 in outcomes[("DELETE", CONNECTION, "needs_reauth")]
    assert invalid_answers  # schemathesis' invalid bodies were sent (each answered 4xx)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=80) | st.sampled_from(
    ["\x00", "a\x00b", "\r\n", "%00", "\u2028", "x" * 3000]
)


def test_s39_browser_routes_fuzzed_give_no_5xx_and_reach_no_zoho(any_db_harness) -> None:
    harness = any_db_harness
    statuses: list[int] = []
    harness.world.journal.clear()  # the module's other tests connected through the sandbox

    @settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(
        params=st.dictionaries(
            st.sampled_from(["code", "state", "location", "accounts-server", "error", "x"]),
            _TEXT,
            max_size=5,
        ),
        token=_TEXT,
        cookie=st.none() | _TEXT,
    )
    def run(params: dict[str, str], token: str, cookie: str | None) -> None:
        headers = {}
        if cookie is not None and cookie.isascii() and cookie.isprintable() and ";" not in cookie:
            headers["Cookie"] = f"{harness.binding_cookie}={cookie}"
        callback = harness.web.get(
            "/callback", params=params, headers=headers, follow_redirects=False
        )
        statuses.append(callback.status_code)
        assert callback.status_code < 500, callback.text
        connect = harness.web.get("/connect/" + quote(token, safe=""), follow_redirects=False)
        assert connect.status_code < 500, connect.text

    run()
    assert statuses and all(400 <= s < 500 for s in statuses)
    assert harness.world.journal.entries() == []


def test_s39_owner_with_control_characters_is_a_4xx(any_db_harness) -> None:
    harness = any_db_harness
    for owner in ("a\x00b", "\x00", "line\nbreak", "tab\there"):
        response = harness.api("POST", "/api/connect-sessions", json={"owner": owner})
        assert 400 <= response.status_code < 500, owner
    listed = harness.api("GET", "/api/connections", params={"owner": "a\x00b"})
    assert listed.status_code == 200 and listed.json()["connections"] == []
