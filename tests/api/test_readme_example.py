"""Integration test: the README's taxes, credit note and recurring invoice example runs as
printed, against the sandbox on a real port (the UK organization, which charges VAT), and prints
what its comments say it prints.

The code is read out of README.md between its markers, so the README cannot drift from the API.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api._sandbox import SCOPES, mint
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice_sandbox import running_sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(
    r"<!-- example: taxes-credits-recurring -->\n```python\n(?P<code>.*?)```\n<!-- end example -->",
    re.DOTALL,
)


def a_month_after(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def readme_example() -> str:
    match = _BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lost its taxes-credits-recurring example"
    return match.group("code")


def printed_in_comments(code: str) -> list[str]:
    """What the example says it prints: the ``# ...`` after each print, or the comment line
    that follows a print without one."""
    expected: list[str] = []
    lines = code.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("print("):
            continue
        _, _, comment = line.partition("  # ")
        if not comment:
            comment = lines[number + 1].removeprefix("# ")
        expected.append(comment.split(" (")[0].strip())
    return expected


@pytest.fixture
def zoho() -> Iterator[ZohoInvoice]:
    with running_sandbox() as sandbox:
        user = sandbox.world.directory.user_by_email("oliver@owen.example")
        assert user is not None
        with httpx.Client(base_url=sandbox.base_url) as http:
            tokens = mint(
                http, user.user_id, scopes=SCOPES + ",ZohoInvoice.creditnotes.ALL", location="uk"
            )
        with ZohoInvoice(
            access_token=tokens["access_token"],
            api_domain=tokens["api_domain"],
            organization_id=user.organization_ids[0],
            budget=UnlimitedBudget(),
        ) as client:
            yield client


def test_the_readme_example_prints_what_it_says(zoho: ZohoInvoice) -> None:
    code = readme_example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {"zoho": zoho})  # the README's own text
    printed = out.getvalue().splitlines()
    expected = printed_in_comments(code)
    assert len(printed) == len(expected) == 4
    assert printed[:3] == expected[:3] == ["599.97 119.99 719.96", "60.00 659.96", "closed"]
    count, total, next_date = printed[3].split()
    assert (count, total) == ("1", "144.00")  # 120.00 + 20 % VAT, the first child made today
    assert expected[3] == "1 144.00 <a month from today>"
    assert next_date == str(a_month_after(datetime.now(UTC).date()))
