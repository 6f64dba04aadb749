"""Contract tests of Zoho's throttle answers (integration: the sandbox on a real loopback port).

Each file under ``throttles/`` has the keys of the contract examples (``source``, ``model``,
``request``, ``response``, ``setup``) plus ``sandbox_limits`` (the ``InvoiceLimits`` that make
the sandbox reach the limit: the generic harness cannot set them), ``response.headers`` (header
names whose values must be whole numbers) and ``client_error`` (the error class the client
raises for the documented answer, or ``null``). Checked for each:

1. The client reads the documented answer as Zoho means it: the right error class
   (``make_api_error`` on the documented status and body) and, where headers are documented, the
   daily quota.
2. The sandbox, at that limit, answers the same request with the same status, ``code``, keys and
   JSON types, and the documented headers as whole numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import zoho_invoice
from api._sandbox import ALICE, mint
from zoho_invoice._http import httpx
from zoho_invoice.api._errors import make_api_error
from zoho_invoice.api._quota import parse_rate_limit
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceLimits, InvoiceSandboxControl

FOLDER = Path(__file__).parent / "throttles"
EXAMPLES = sorted(FOLDER.glob("*.json"))
KEYS = {"source", "model", "request", "response", "client_error", "sandbox_limits"}


def load(path: Path) -> dict[str, Any]:
    example: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert example.keys() >= KEYS, f"{path.name} lacks {sorted(KEYS - example.keys())}"
    assert str(example["source"]).startswith("https://")
    return example


def test_there_are_throttle_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"per_minute_44.json", "daily_45.json", "ip_blocked.json"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_client_reads_the_documented_answer(path: Path) -> None:
    example = load(path)
    documented = example["response"]
    content = json.dumps(documented["body"]).encode()
    if example["client_error"] is None:
        assert documented["body"]["code"] == 0
    else:
        error = make_api_error(documented["status"], content)
        assert type(error).__name__ == example["client_error"]
        assert isinstance(error, zoho_invoice.RateLimitError)
    headers = {k.lower(): v for k, v in (documented.get("headers") or {}).items()}
    if "x-rate-limit-reset" in headers:
        now = 1_800_000_000.0
        status = parse_rate_limit(headers, now)
        assert status is not None
        assert (status.limit, status.remaining) == (
            int(headers["x-rate-limit-limit"]),
            int(headers["x-rate-limit-remaining"]),
        )
        # Seconds to the daily reset, not a wait: 34881 s is this evening, not an epoch time.
        reset = datetime.fromtimestamp(now + int(headers["x-rate-limit-reset"]), UTC)
        assert status.resets_at == reset


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def connection(sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10.0) as http:
        alice = sandbox.world.directory.user_by_email(ALICE)
        assert alice is not None
        org = alice.organization_ids[0]
        control = InvoiceSandboxControl(http)
        control.seed(org, contacts=1, items=1, invoices=0)
        tokens = mint(http, alice.user_id)
        yield {"http": http, "control": control, "org": org, "token": tokens["access_token"]}


def _send(connection: dict[str, Any], step: dict[str, Any]) -> httpx.Response:
    http: httpx.Client = connection["http"]
    return http.request(
        step["method"],
        f"/api/us/invoice/v3{step['path']}",
        params=step.get("query") or {},
        json=step.get("json"),
        headers={
            "Authorization": f"Zoho-oauthtoken {connection['token']}",
            "X-com-zoho-invoice-organizationid": connection["org"],
        },
    )


def _same_shape(documented: Any, answered: Any, where: str) -> None:
    if isinstance(documented, dict):
        assert isinstance(answered, dict), where
        for key, value in documented.items():
            assert key in answered, f"{where}.{key} documented, missing in the sandbox"
            _same_shape(value, answered[key], f"{where}.{key}")
    elif documented not in (None, "", []):
        assert type(answered) is type(documented), f"{where}: {answered!r}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_sandbox_at_the_limit_answers_as_documented(path: Path, connection: dict[str, Any]) -> None:
    example = load(path)
    control: InvoiceSandboxControl = connection["control"]
    control.set_limits(**InvoiceLimits().updated(example["sandbox_limits"]).to_json())
    control.reset_usage()
    try:
        for number, step in enumerate(example.get("setup") or []):
            answer = _send(connection, step)
            assert answer.status_code < 300, f"setup step {number}: {answer.text}"
        answer = _send(connection, example["request"])
    finally:
        control.set_limits(**InvoiceLimits().to_json())
        control.reset_usage()
    documented = example["response"]
    assert answer.status_code == documented["status"], answer.text
    body = answer.json()
    assert body["code"] == documented["body"]["code"]
    _same_shape(documented["body"], body, "answer")
    for name in documented.get("headers") or {}:
        assert answer.headers[name].isdigit(), f"{name}: {answer.headers.get(name)!r}"
