"""Integration tests of the Invoice API simulator's lists (paging, sort, suffix filters, status,
search) over seeded data, of the seed itself (deterministic, fast, bulk) and of persistence
across a restart of the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox_support import alice_headers
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import (
    InvoiceLimits,
    InvoiceSandboxControl,
    InvoiceStore,
    create_invoice_app,
    seed_organization,
)
from zoho_invoice_sandbox.invoice._resources import INVOICES

API = "/us/invoice/v3"
NOW = 1_790_000_000.0  # 2026-09-21T13:33:20Z
TODAY = "2026-09-21"


def make_world(data_dir: Path | None = None) -> SandboxWorld:
    return SandboxWorld(base_url="http://sandbox.test", data_dir=data_dir, clock=lambda: NOW)


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[TestClient, dict[str, str], SandboxWorld]]:
    world = make_world()
    headers = alice_headers(world)
    seed_organization(
        world,
        headers["X-com-zoho-invoice-organizationid"],
        contacts=40,
        items=10,
        invoices=1000,
        seed=5,
    )
    # These tests read a lot: lift the per-organization budget.
    limits = InvoiceLimits(per_minute=1_000_000, daily=1_000_000)
    with TestClient(create_invoice_app(world, limits)) as client:
        yield client, headers, world
    world.close()


def get_all(
    client: TestClient, headers: dict[str, str], path: str, **params: Any
) -> list[dict[str, Any]]:
    key = path.strip("/").split("/")[0]
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = client.get(f"{API}{path}", headers=headers, params={**params, "page": page})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        out.extend(body[key])
        if not body["page_context"]["has_more_page"]:
            return out
        page += 1


# -- paging and sort ------------------------------------------------------------------------


def test_paging_covers_every_invoice_once(
    seeded: tuple[TestClient, dict[str, str], SandboxWorld],
) -> None:
    client, headers, _ = seeded
    first = client.get(f"{API}/invoices", headers=headers).json()
    assert first["code"] == 0
    assert len(first["invoices"]) == 200
    assert first["page_context"] == {
        "page": 1,
        "per_page": 200,
        "has_more_page": True,
        "report_name": "Invoices",
        "applied_filter": "Status.All",
        "sort_column": "created_time",
        "sort_order": "D",
        "search_criteria": [],
    }
    assert "line_items" not in first["invoices"][0]
    every = get_all(client, headers, "/invoices", per_page=150)
    ids = [i["invoice_id"] for i in every]
    assert len(ids) == len(set(ids)) == 1000
    last = client.get(
        f"{API}/invoices", headers=headers, params={"page": 5, "per_page": 200}
    ).json()
    assert (len(last["invoices"]), last["page_context"]["has_more_page"]) == (200, False)
    beyond = client.get(f"{API}/invoices", headers=headers, params={"page": 6}).json()
    assert beyond["invoices"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 201}, "per_page"),
        ({"per_page": 0}, "per_page"),
        ({"page": "x"}, "page"),
        ({"sort_column": "doc"}, "sort_column"),
        ({"sort_column": "total; DROP TABLE invoices"}, "sort_column"),
        ({"sort_order": "up"}, "sort_order"),
        ({"status": "lost"}, "status"),
        ({"date_start": "yesterday"}, "date_start"),
        ({"total_greater_than": "lots"}, "total_greater_than"),
        ({"filter_by": "Status.Nope"}, "filter_by"),
    ],
)
def test_bad_list_parameters_are_400_code_2(
    seeded: tuple[TestClient, dict[str, str], SandboxWorld], params: dict[str, Any], field: str
) -> None:
    client, headers, _ = seeded
    answer = client.get(f"{API}/invoices", headers=headers, params=params)
    assert answer.status_code == 400
    assert answer.json() == {"code": 2, "message": f"Invalid value passed for {field}"}


@pytest.mark.parametrize(
    ("column", "order"),
    [
        ("total", "A"),
        ("total", "D"),
        ("date", "A"),
        ("customer_name", "D"),
        ("invoice_number", "A"),
    ],
)
def test_sort(
    seeded: tuple[TestClient, dict[str, str], SandboxWorld], column: str, order: str
) -> None:
    client, headers, _ = seeded
    rows = get_all(client, headers, "/invoices", sort_column=column, sort_order=order)
    values = [r[column] for r in rows]
    assert values == sorted(values, reverse=order == "D")
    assert len(rows) == 1000


# -- filters ----------------------------------------------------------------------------------


def test_suffix_filters(seeded: tuple[TestClient, dict[str, str], SandboxWorld]) -> None:
    client, headers, _ = seeded
    everything = get_all(client, headers, "/invoices")
    name = everything[0]["customer_name"]
    prefix = name[:3]

    def check(params: dict[str, Any], keep: Any) -> None:
        got = {r["invoice_id"] for r in get_all(client, headers, "/invoices", **params)}
        want = {r["invoice_id"] for r in everything if keep(r)}
        assert got == want, params
        assert want, f"{params} selects nothing: a weak test"

    check(
        {"customer_name_startswith": prefix.lower()},
        lambda r: r["customer_name"].lower().startswith(prefix.lower()),
    )
    check(
        {"customer_name_contains": name[2:6]},
        lambda r: name[2:6].lower() in r["customer_name"].lower(),
    )
    check({"customer_name": name}, lambda r: r["customer_name"] == name)
    check({"total_greater_than": 2000}, lambda r: r["total"] > 2000)
    check({"total_less_than": 300}, lambda r: r["total"] < 300)
    check(
        {"date_start": "2026-03-01", "date_end": "2026-03-31"},
        lambda r: "2026-03-01" <= r["date"] <= "2026-03-31",
    )
    check({"date_before": "2026-01-01"}, lambda r: r["date"] < "2026-01-01")
    check({"date_after": "2026-09-01"}, lambda r: r["date"] > "2026-09-01")
    check({"due_date_before": TODAY}, lambda r: r["due_date"] < TODAY)
    check(
        {"invoice_number_startswith": "INV-0001"},
        lambda r: r["invoice_number"].startswith("INV-0001"),
    )
    check(
        {"customer_id": everything[0]["customer_id"]},
        lambda r: r["customer_id"] == everything[0]["customer_id"],
    )
    check(
        {"last_modified_time": "2026-09-01T00:00:00+0000"},
        lambda r: r["last_modified_time"] > "2026-09-01T00:00:00+0000",
    )


def test_status_filters(seeded: tuple[TestClient, dict[str, str], SandboxWorld]) -> None:
    client, headers, _ = seeded
    everything = get_all(client, headers, "/invoices")
    shown = {r["status"] for r in everything}
    assert {"draft", "sent", "overdue", "paid", "partially_paid", "void", "viewed"} <= shown
    for status in ("draft", "sent", "overdue", "paid", "void", "viewed", "partially_paid"):
        got = get_all(client, headers, "/invoices", status=status)
        assert got and {r["status"] for r in got} == {status}
        assert len(got) == sum(r["status"] == status for r in everything)
    unpaid = get_all(client, headers, "/invoices", status="unpaid")
    assert {r["status"] for r in unpaid} == {"sent", "viewed", "overdue", "partially_paid"}
    assert all(r["balance"] > 0 for r in unpaid)
    by_filter = get_all(client, headers, "/invoices", filter_by="Status.Overdue")
    assert all(r["status"] == "overdue" and r["due_date"] < TODAY for r in by_filter)


def test_search_text(seeded: tuple[TestClient, dict[str, str], SandboxWorld]) -> None:
    client, headers, _ = seeded
    rows = get_all(client, headers, "/invoices", search_text="inv-00042")
    assert {r["invoice_number"] for r in rows} == {f"INV-00042{d}" for d in range(10)}
    # LIKE wildcards in the search are plain characters.
    assert (
        client.get(f"{API}/invoices", headers=headers, params={"search_text": "%"}).json()[
            "invoices"
        ]
        == []
    )
    contacts = get_all(client, headers, "/contacts", search_text="example")
    assert len(contacts) == 40


def test_seeded_documents_are_consistent(
    seeded: tuple[TestClient, dict[str, str], SandboxWorld],
) -> None:
    client, headers, _ = seeded
    payments = get_all(client, headers, "/customerpayments")
    assert payments
    paid = get_all(client, headers, "/invoices", status="paid")
    one = client.get(f"{API}/invoices/{paid[0]['invoice_id']}", headers=headers).json()["invoice"]
    assert one["balance"] == 0 and one["payment_made"] == one["total"]
    assert sum(line["item_total"] for line in one["line_items"]) == pytest.approx(one["sub_total"])
    payment_id = one["payments"][0]["payment_id"]
    payment = client.get(f"{API}/customerpayments/{payment_id}", headers=headers).json()["payment"]
    assert payment["invoices"][0]["invoice_id"] == one["invoice_id"]
    dates = sorted(r["date"] for r in get_all(client, headers, "/invoices"))
    assert dates[0] >= "2025-09-22" and dates[-1] <= TODAY
    assert dates[0] < "2025-11-01" and dates[-1] > "2026-08-01"  # spread over the year


# -- the seed -----------------------------------------------------------------------------


def test_seed_is_deterministic() -> None:
    def snapshot(seed: int) -> list[tuple[str, str, float, str]]:
        store = InvoiceStore(None)
        seed_organization(store, "1", contacts=20, items=5, invoices=300, seed=seed, now=NOW)
        docs = store.select(INVOICES, "1", order_by="invoice_number")
        store.close()
        return [(d["invoice_number"], d["customer_name"], d["total"], d["date"]) for d in docs]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


def test_seed_20000_invoices_and_read_the_last_page() -> None:
    # How fast seeding and deep pages are is measured in bench/, not asserted here.
    world = make_world()
    headers = alice_headers(world)
    org = headers["X-com-zoho-invoice-organizationid"]
    result = seed_organization(world, org, contacts=200, items=20, invoices=20_000, seed=1)
    assert result.invoices == 20_000 and result.contacts == 200
    with TestClient(create_invoice_app(world)) as client:
        answer = client.get(
            f"{API}/invoices", headers=headers, params={"page": 100, "per_page": 200}
        )
        assert len(answer.json()["invoices"]) == 200
        assert answer.json()["page_context"]["has_more_page"] is False
        beyond = client.get(
            f"{API}/invoices", headers=headers, params={"page": 101, "per_page": 200}
        )
        assert beyond.json()["invoices"] == []
    world.close()


def test_seed_control_endpoint(tmp_path: Path) -> None:
    world = make_world()
    headers = alice_headers(world)
    org = headers["X-com-zoho-invoice-organizationid"]
    with TestClient(create_invoice_app(world)) as client:
        control = InvoiceSandboxControl(client, prefix="/")
        result = control.seed(org, contacts=5, items=3, invoices=30, estimates=4, seed=2)
        assert (result.contacts, result.invoices, result.estimates) == (5, 30, 4)
        assert len(get_all(client, headers, "/invoices")) == 30
        assert len(get_all(client, headers, "/estimates")) == 4
        # A number typed in by hand where the sequence goes next is skipped, not a crash.
        customer = get_all(client, headers, "/contacts")[0]["contact_id"]
        body = {
            "customer_id": customer,
            "invoice_number": "INV-000032",
            "line_items": [{"name": "W", "rate": 1}],
        }
        assert client.post(f"{API}/invoices", headers=headers, json=body).status_code == 201
        # Invoices for existing contacts only.
        control.seed(org, contacts=0, items=0, invoices=10, seed=3)
        numbers = [i["invoice_number"] for i in get_all(client, headers, "/invoices")]
        assert len(numbers) == len(set(numbers)) == 41
        assert len(get_all(client, headers, "/contacts")) == 5
        assert client.post("/_sandbox/seed", json={"organization_id": "x"}).status_code == 400
        assert (
            client.post("/_sandbox/seed", json={"organization_id": org, "invoices": -1}).status_code
            == 400
        )
    world.close()


# -- persistence ---------------------------------------------------------------------------


def test_data_survive_a_restart(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    headers = alice_headers(world)
    with TestClient(create_invoice_app(world)) as client:
        contact = client.post(
            f"{API}/contacts", headers=headers, json={"contact_name": "Kept"}
        ).json()["contact"]
        body = {
            "customer_id": contact["contact_id"],
            "line_items": [{"name": "W", "rate": 12.5, "quantity": 2}],
        }
        invoice = client.post(f"{API}/invoices", headers=headers, json=body).json()["invoice"]
    world.close()
    del world

    again = make_world(tmp_path)  # a new sandbox process would build exactly this
    headers = alice_headers(again)
    with TestClient(create_invoice_app(again)) as client:
        got = client.get(f"{API}/invoices/{invoice['invoice_id']}", headers=headers).json()
        assert got["invoice"]["total"] == 25.0
        assert got["invoice"]["customer_name"] == "Kept"
        # Numbers and ids go on from where they were.
        second = client.post(f"{API}/invoices", headers=headers, json=body).json()["invoice"]
        assert second["invoice_number"] == "INV-000002"
        assert int(second["invoice_id"]) > int(invoice["invoice_id"])
    again.close()
    assert any(p.name.startswith("invoice-sandbox") for p in tmp_path.iterdir())


def test_in_memory_worlds_do_not_share_data() -> None:
    one, two = make_world(), make_world()
    seed_organization(one, "800000000001000003", contacts=3, items=0, invoices=0)
    h = alice_headers(two)
    with TestClient(create_invoice_app(two)) as client:
        assert client.get(f"{API}/contacts", headers=h).json()["contacts"] == []
    one.close()
    two.close()
