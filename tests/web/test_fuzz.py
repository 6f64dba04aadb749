"""Integration test: schemathesis fuzzes the JSON API from /openapi.json (SECURITY 39) against
the service app with a real Vault and the in-process sandbox; no 5xx, and nothing reaches Zoho."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_s39_openapi_describes_the_api_with_bearer_auth(fuzz_harness) -> None:
    doc = fuzz_harness.web.get("/openapi.json").json()
    assert {"/api/connect-sessions", "/api/connections", "/api/connections/{connection_id}"} <= set(
        doc["paths"]
    )
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "/callback" not in doc["paths"]


def test_s39_fuzzing_finds_no_5xx_and_reaches_no_zoho(fuzz_harness) -> None:
    harness = fuzz_harness
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
