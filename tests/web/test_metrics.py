"""Integration tests: ``GET /metrics`` (the service in a TestClient, the sandbox playing Zoho)
counts what an operator watches, sits behind the API key (SECURITY 37), and never carries a
token or an id (SECURITY 38)."""

from __future__ import annotations

import re
from typing import Any

Harness = Any  # the harness fixture lives in tests/web/conftest.py


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_s37_metrics_need_the_api_key(harness: Harness) -> None:
    assert harness.web.get("/metrics").status_code == 401
    wrong = harness.web.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_metrics_count_connects_refreshes_and_api_calls(harness: Harness) -> None:
    before = harness.api("GET", "/metrics").text
    assert harness.connect(email="bob@bluebird.example").status_code in (200, 303)
    [conn] = harness.api("GET", "/api/connections").json()["connections"]
    assert harness.api("GET", f"/api/connections/{conn['id']}/organizations").status_code == 200
    refused = harness.web.get("/callback?state=nope&code=x&location=us", follow_redirects=False)
    assert refused.status_code == 400
    after = harness.api("GET", "/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def grew(name: str, **labels: str) -> float:
        return _value(text, name, **labels) - _value(before, name, **labels)

    assert grew("zoho_invoice_connect_callbacks_total", outcome="created") == 1
    assert grew("zoho_invoice_connect_callbacks_total", outcome="refused") == 1
    assert grew("zoho_invoice_api_requests_total", method="GET", status="200") >= 1
    assert "zoho_invoice_budget_wait_seconds_bucket" in text

    # Nothing secret or identifying: no token, no connection id, no owner.
    row = harness.vault.load_tokens(conn["id"])
    assert row.access_token and row.access_token not in text
    assert conn["id"] not in text and "tenant-1" not in text
