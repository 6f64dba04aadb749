"""Integration and unit tests: the service passes on how long Zoho asked to wait (the error's
``retry_after``), and the service and the demo tell a call that got no answer from an error Zoho
answered."""

from __future__ import annotations

import pytest

from zoho_invoice import APIConnectionError, APITimeoutError, BadRequestError
from zoho_invoice.web._demo_invoices import describe_error
from zoho_invoice.web._errors import problem_for
from zoho_invoice_sandbox import Fault


def _connected(harness) -> str:
    assert harness.connect(owner="tenant-1", email="alice@acme.example").status_code == 200
    return str(harness.vault.list_connections(owner="tenant-1")[0].id)


@pytest.mark.parametrize(("told", "expected"), [("42", "42"), (None, "60")])
def test_a_44_answers_429_with_zohos_retry_after(harness, told: str | None, expected: str) -> None:
    """Zoho's own Retry-After is passed on; without one, the organization's minute."""
    conn_id = _connected(harness)
    harness.world.faults.add(
        "invoice.GET /organizations",
        Fault(
            status=429,
            body={"code": 44, "message": "You have made too many requests."},
            headers={"Retry-After": told} if told is not None else {},
        ),
    )
    limited = harness.api("GET", f"/api/connections/{conn_id}/organizations")
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.headers["Retry-After"] == expected


def test_the_demo_says_zoho_could_not_be_reached_when_there_was_no_answer() -> None:
    for silent in (APIConnectionError("no answer"), APITimeoutError("timed out")):
        assert describe_error(silent) == "Zoho could not be reached right now. Reload in a minute."
    answered = BadRequestError("Zoho Invoice API: bad (HTTP 400, code 4001)", status_code=400)
    assert describe_error(answered).startswith("Zoho answered an error")


def test_the_service_answers_no_answer_as_zoho_unreachable_not_as_zohos_error() -> None:
    for silent in (APIConnectionError("no answer"), APITimeoutError("timed out")):
        problem = problem_for(silent)
        assert problem is not None
        assert (problem.status_code, problem.error) == (502, "zoho_unreachable")
        assert "answered" not in problem.message
    answered = problem_for(BadRequestError("Zoho Invoice API: bad", status_code=400))
    assert answered is not None and answered.error == "zoho_error"
