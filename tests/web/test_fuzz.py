"""Integration test: schemathesis fuzzes the JSON API from /openapi.json (SECURITY 39) against
the service app with a real Vault and the in-process sandbox; no 5xx, and nothing reaches Zoho."""

from __future__ import annotations

from urllib.parse import quote

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_s39_openapi_describes_the_api_with_bearer_auth(fuzz_harness) -> None:
    doc = fuzz_harness.web.get("/openapi.json").json()
    assert {"/api/connect-sessions", "/api/connections", "/api/connections/{connection_id}"} <= set(
        doc["paths"]
    )
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "/callback" not in doc["paths"]


def test_s39_fuzzing_finds_no_5xx_and_reaches_no_zoho(any_db_harness) -> None:
    harness = any_db_harness
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    failures: list[str] = []
    calls: list[int] = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=op.as_strategy())
        def run(case) -> None:
            for key in ("wrong-key", harness.api_key):
                response = case.call(headers={"Authorization": f"Bearer {key}"})
                calls.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path}: {response.status_code}")
                if key != harness.api_key and case.path.startswith("/api/"):
                    assert response.status_code == 401
                else:
                    assert response.status_code < 500, response.text

        run()
    assert failures == []
    assert len(calls) > 40
    assert any(400 <= code < 500 and code != 401 for code in calls)  # invalid inputs got 4xx
    assert harness.zoho_requests() == []


_TEXT = st.text(st.characters(codec="utf-8"), max_size=80) | st.sampled_from(
    ["\x00", "a\x00b", "\r\n", "%00", "\u2028", "x" * 3000]
)


def test_s39_browser_routes_fuzzed_give_no_5xx_and_reach_no_zoho(any_db_harness) -> None:
    harness = any_db_harness
    statuses: list[int] = []

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
    assert harness.zoho_requests() == []


def test_s39_owner_with_control_characters_is_a_4xx(any_db_harness) -> None:
    harness = any_db_harness
    for owner in ("a\x00b", "\x00", "line\nbreak", "tab\there"):
        response = harness.api("POST", "/api/connect-sessions", json={"owner": owner})
        assert 400 <= response.status_code < 500, owner
    listed = harness.api("GET", "/api/connections", params={"owner": "a\x00b"})
    assert listed.status_code == 200 and listed.json()["connections"] == []
