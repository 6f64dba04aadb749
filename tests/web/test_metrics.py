"""Integration tests: ``GET /metrics`` (the service in a TestClient, the sandbox playing Zoho)
counts what an operator watches, sits behind a key of its own that opens no other route
(SECURITY 47), and never carries a token or an id (SECURITY 38)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr

from web._harness import Harness
from zoho_invoice import ConfigurationError
from zoho_invoice.web import create_app


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def _metrics(harness: Harness, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return harness.web.get("/metrics", headers=headers)


def test_s47_metrics_need_their_own_key(harness: Harness) -> None:
    assert _metrics(harness, None).status_code == 401
    assert _metrics(harness, "nope").status_code == 401
    # The API key mints every user's tokens: it does not read metrics.
    assert _metrics(harness, harness.api_key).status_code == 401
    answer = _metrics(harness, harness.metrics_key)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/connect-sessions"),
        ("GET", "/api/connections"),
        ("POST", "/api/connections/x/access-token"),
        ("DELETE", "/api/connections/x"),
    ],
)
def test_s47_metrics_key_opens_no_api_route(harness: Harness, method: str, path: str) -> None:
    answer = harness.web.request(
        method,
        path,
        json={"owner": "scraper"},
        headers={"Authorization": f"Bearer {harness.metrics_key}"},
    )
    assert answer.status_code == 401
    assert harness.vault.list_connections() == []


def test_s47_metrics_off_without_a_metrics_key(no_metrics_harness: Harness) -> None:
    harness = no_metrics_harness
    answer = harness.web.get("/metrics", headers={"Authorization": f"Bearer {harness.api_key}"})
    assert answer.status_code == 404
    assert "ZOHO_METRICS_KEY" in answer.json()["message"]


@pytest.mark.parametrize(
    ("metrics_key", "named"),
    [("short-metrics-key", "ZOHO_METRICS_KEY"), (None, "differ from ZOHO_API_KEY")],
)
def test_s47_metrics_key_is_long_and_not_the_api_key(
    web_settings: Any, metrics_key: str | None, named: str
) -> None:
    if metrics_key is None:  # the API key itself
        metrics_key = web_settings().api_key.get_secret_value()
    with pytest.raises(ConfigurationError, match=named) as refused:
        create_app(web_settings(metrics_key=SecretStr(metrics_key)))
    assert metrics_key not in str(refused.value)


def test_metrics_count_connects_refreshes_and_api_calls(harness: Harness) -> None:
    before = _metrics(harness, harness.metrics_key).text
    assert harness.connect(email="bob@bluebird.example").status_code in (200, 303)
    [conn] = harness.api("GET", "/api/connections").json()["connections"]
    assert harness.api("GET", f"/api/connections/{conn['id']}/organizations").status_code == 200
    refused = harness.web.get("/callback?state=nope&code=x&location=us", follow_redirects=False)
    assert refused.status_code == 400
    after = _metrics(harness, harness.metrics_key)
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
