"""Contract tests: Zoho's own documented examples against the client's models and the sandbox.

Integration tests (the sandbox on a real loopback port). Every file under ``examples/`` holds one
example request and answer copied from Zoho's documentation, with its source URL::

    {"source": "https://www.zoho.com/invoice/api/v3/...", "model": "Invoice" | null,
     "request": {"method": "GET", "path": "/invoices/{invoice_id}", "query": {...}, "json": {...}},
     "response": {"status": 200, "body": {...}},
     "setup": [{"method": "POST", "path": "/contacts", "json": {...},
                "save": {"contact_id": "contact.contact_id"}}]}

Two things are checked for each, so a test fails when either side drifts from Zoho:

1. The documented answer parses into the named model with nothing lost: every documented key is
   kept (declared or extra) with the same value, money exact (compared as ``Decimal`` against the
   documented text), ids as strings.
2. The sandbox, asked the same kind of request (after the ``setup`` steps made what it needs;
   ``{name}`` placeholders are filled from what they saved), answers with the same HTTP status,
   the same ``code`` and the same shape: every documented key is there, with the same JSON type.

Paths under ``/oauth/`` go to the sandbox's Zoho Accounts (US); their placeholders
(``{client_id}``, ``{client_secret}``, ``{redirect_uri}``, ``{refresh_token}``,
``{access_token}``) are filled from a connection the harness makes. Everything else goes to the
Invoice API of alice's first organization with a fresh full-access token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from api._sandbox import CLIENT, REDIRECT, SECRET, mint
from zoho_invoice._http import httpx
from zoho_invoice.api import types as api_types
from zoho_invoice_sandbox import RunningSandbox, running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

EXAMPLES_DIR = Path(__file__).parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.rglob("*.json"))
REQUIRED_KEYS = {"source", "model", "request", "response"}
ENVELOPE_KEYS = {"code", "message", "page_context"}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _example_id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_DIR).with_suffix(""))


def load(path: Path) -> dict[str, Any]:
    """An example, numbers read exactly (``Decimal``) so money can be compared to the letter."""
    example: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    missing = REQUIRED_KEYS - example.keys()
    assert not missing, f"{path.name} lacks {sorted(missing)}"
    assert str(example["source"]).startswith("https://"), "an example names its Zoho source"
    return example


def test_there_are_examples() -> None:
    """An empty folder would make every parametrized test vanish silently."""
    assert EXAMPLES, "tests/contract/examples/ holds no example"


# ---------------------------------------------------------------------------------- 1. models


def _payload(body: dict[str, Any]) -> tuple[str, Any]:
    """The one key of an envelope that carries the resource (``invoice``, ``invoices``, ...)."""
    keys = [k for k, v in body.items() if k not in ENVELOPE_KEYS and isinstance(v, dict | list)]
    assert len(keys) == 1, f"cannot tell the payload among {sorted(body)}"
    return keys[0], body[keys[0]]


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def _same_time(documented: str, parsed: date) -> bool:
    text = documented.strip()
    if isinstance(parsed, datetime):
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
        try:
            return datetime.fromisoformat(text) == parsed
        except ValueError:
            return False
    try:
        return date.fromisoformat(text) == parsed
    except ValueError:
        return False


def assert_kept(documented: Any, parsed: Any, where: str) -> None:
    """``parsed`` (a model dump) holds ``documented`` with nothing lost or changed."""
    if isinstance(documented, dict):
        assert isinstance(parsed, dict), f"{where}: an object became {type(parsed).__name__}"
        for key, value in documented.items():
            assert key in parsed, f"{where}.{key} was dropped by the model"
            assert_kept(value, parsed[key], f"{where}.{key}")
        return
    if isinstance(documented, list):
        assert isinstance(parsed, list | tuple), f"{where}: a list became {type(parsed).__name__}"
        assert len(parsed) == len(documented), (
            f"{where}: {len(documented)} items became {len(parsed)}"
        )
        for index, (doc_item, parsed_item) in enumerate(zip(documented, parsed, strict=True)):
            assert_kept(doc_item, parsed_item, f"{where}[{index}]")
        return
    if documented is None or documented == "":
        assert parsed in (None, "", documented), f"{where}: empty became {parsed!r}"
        return
    if isinstance(documented, bool) or isinstance(parsed, bool):
        assert documented == parsed, f"{where}: {documented!r} became {parsed!r}"
        return
    if isinstance(parsed, date) and isinstance(documented, str):
        assert _same_time(documented, parsed), f"{where}: {documented!r} became {parsed!r}"
        return
    if isinstance(parsed, float):
        pytest.fail(
            f"{where}: {documented!r} became a binary float {parsed!r}; money must be exact"
        )
    if isinstance(parsed, Decimal):
        assert _as_decimal(documented) == parsed, f"{where}: {documented!r} became {parsed!r}"
        return
    if isinstance(documented, int | Decimal) and isinstance(parsed, str):
        # Ids: a JSON number in the docs is kept as its digits.
        assert str(documented) == parsed, f"{where}: {documented!r} became {parsed!r}"
        return
    if isinstance(documented, int | Decimal) and isinstance(parsed, int):
        assert Decimal(documented) == parsed, f"{where}: {documented!r} became {parsed!r}"
        return
    assert documented == parsed, f"{where}: {documented!r} became {parsed!r}"


#: Examples whose answer the client reads into a model (errors and Accounts answers have none).
MODEL_EXAMPLES = [path for path in EXAMPLES if load(path)["model"] is not None]


@pytest.mark.parametrize("path", MODEL_EXAMPLES, ids=_example_id)
def test_documented_answer_parses_into_the_model_with_nothing_lost(path: Path) -> None:
    example = load(path)
    model = getattr(api_types, example["model"], None)
    assert isinstance(model, type) and issubclass(model, BaseModel), (
        f"zoho_invoice.api.types has no model {example['model']!r}"
    )
    key, payload = _payload(example["response"]["body"])
    items = payload if isinstance(payload, list) else [payload]
    assert items, f"{key}: the documented answer holds no item to parse"
    for index, item in enumerate(items):
        # Through JSON text, as the client parses an answer.
        parsed = model.model_validate_json(json.dumps(item, default=str))
        assert_kept(item, parsed.model_dump(mode="python", by_alias=True), f"{key}[{index}]")


# ---------------------------------------------------------------------------------- 2. sandbox


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_id(where: str) -> bool:
    key = where.rsplit(".", 1)[-1].split("[", 1)[0]
    return key.endswith("_id") or key == "id"


def _is_number_text(where: str) -> bool:
    key = where.rsplit(".", 1)[-1].split("[", 1)[0]
    return key in ("payment_number", "reference_number")


def assert_same_shape(documented: Any, answered: Any, where: str) -> None:
    """Every documented key is in the sandbox's answer, with the same JSON type.

    A documented ``null`` or empty value says nothing of the type; in a list, the first
    documented item is compared with every answered one.
    """
    if documented is None or documented == "":
        return
    if _is_id(where) and isinstance(documented, int | Decimal) and isinstance(answered, str):
        # Zoho's example pages print ids as bare numbers; its attribute tables type them as
        # strings, and real answers carry strings (ids pass 2**53). Both are "an id".
        assert answered.isdigit(), f"{where}: an id that is not digits: {answered!r}"
        return
    if _is_number_text(where) and isinstance(documented, int) and isinstance(answered, str):
        # Likewise "payment_number": 7, "reference_number": 99782374: text Zoho's SDK reads
        # with getString (docs/zoho/invoice-extras.md), a number only on the example page.
        return
    doc_type, got_type = _json_type(documented), _json_type(answered)
    assert doc_type == got_type, (
        f"{where}: Zoho documents a {doc_type}, the sandbox gave {got_type}"
    )
    if isinstance(documented, dict):
        for key, value in documented.items():
            assert key in answered, f"{where}.{key}: documented by Zoho, missing in the sandbox"
            assert_same_shape(value, answered[key], f"{where}.{key}")
    elif isinstance(documented, list) and documented:
        for index, item in enumerate(answered):
            assert_same_shape(documented[0], item, f"{where}[{index}]")


def fill(value: Any, saved: dict[str, str]) -> Any:
    """``{name}`` placeholders replaced by saved values, in strings, keys and nested values."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            assert name in saved, f"placeholder {{{name}}} was never saved by a setup step"
            return saved[name]

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(v, saved) for v in value]
    if isinstance(value, dict):
        return {fill(k, saved): fill(v, saved) for k, v in value.items()}
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def _dig(body: Any, dotted: str) -> str:
    value = body
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return str(value)


class Harness:
    """The sandbox, a connection's tokens and alice's organization."""

    def __init__(self, sandbox: RunningSandbox, http: httpx.Client) -> None:
        self.sandbox = sandbox
        self.http = http
        alice = sandbox.world.directory.user_by_email("alice@acme.example")
        assert alice is not None
        self.organization_id = alice.organization_ids[0]
        self.tokens = mint(http, alice.user_id, scopes="ZohoInvoice.fullaccess.all")

    def base_values(self) -> dict[str, str]:
        return {
            "client_id": CLIENT,
            "client_secret": SECRET,
            "redirect_uri": REDIRECT,
            "refresh_token": str(self.tokens["refresh_token"]),
            "access_token": str(self.tokens["access_token"]),
            "organization_id": self.organization_id,
        }

    def send(self, step: dict[str, Any], saved: dict[str, str]) -> httpx.Response:
        path = fill(step["path"], saved)
        query = fill(step.get("query") or {}, saved)
        if path.startswith("/oauth/"):
            form = fill(step.get("form") or step.get("json") or {}, saved)
            return self.http.request(
                step["method"], f"/accounts/us{path}", params=query, data=form or None
            )
        body = step.get("json")
        return self.http.request(
            step["method"],
            f"/api/us/invoice/v3{path}",
            params=query,
            json=fill(body, saved) if body is not None else None,
            headers={
                "Authorization": f"Zoho-oauthtoken {self.tokens['access_token']}",
                "X-com-zoho-invoice-organizationid": self.organization_id,
            },
        )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        with httpx.Client(base_url=running.base_url) as http:
            # Zoho's per-minute limit is its own contract (tests/contract/examples/throttles);
            # here some hundred requests in a few seconds must not trip it.
            InvoiceSandboxControl(http).set_limits(
                per_minute=100_000, daily=1_000_000, concurrent=50
            )
        yield running


@pytest.fixture
def harness(sandbox: RunningSandbox) -> Iterator[Harness]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10.0) as http:
        yield Harness(sandbox, http)


@pytest.mark.parametrize("path", EXAMPLES, ids=_example_id)
def test_sandbox_answers_the_documented_request_with_the_documented_shape(
    path: Path, harness: Harness
) -> None:
    example = load(path)
    saved = harness.base_values()
    for number, step in enumerate(example.get("setup") or []):
        answer = harness.send(step, saved)
        assert answer.status_code < 300, f"setup step {number}: {answer.status_code} {answer.text}"
        for name, dotted in (step.get("save") or {}).items():
            saved[name] = _dig(answer.json(), dotted)
    answer = harness.send(example["request"], saved)
    documented = example["response"]
    assert answer.status_code == documented["status"], answer.text
    content_type = answer.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        pytest.fail(f"the sandbox answered {content_type!r}, Zoho documents JSON")
    body = answer.json()
    if "code" in documented["body"]:
        assert body.get("code") == documented["body"]["code"], body
    assert_same_shape(documented["body"], body, "answer")
