"""Integration tests of the demo dashboard's invoices (create_app(demo=True)): a real Vault, the
sandbox app playing Zoho in process and seeded with invoices; the panel read from the mirror (its
Sync button, "synced N minutes ago", no Zoho call per view), paging, the create form, Zoho's
errors shown as notices, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.mirror import Mirror
from zoho_invoice.web._demo import CSRF_COOKIE
from zoho_invoice.web._sync_api import SyncRunner, runner_for, use_runner
from zoho_invoice_sandbox import Fault
from zoho_invoice_sandbox.invoice import seed_organization

FRANZ = "franz@fischer.example"


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match
    return match.group(1)


def _selected_tax(text: str) -> str:
    """The tax the form offers first: Franz's organization is a VAT one (standard rate)."""
    match = re.search(r'<option value="(\d+)" selected>', text.split('name="tax_id"')[1])
    assert match, "a VAT organization's form starts with its standard rate chosen"
    return match.group(1)


def _rows(text: str) -> list[str]:
    """The invoice numbers shown, top to bottom."""
    return re.findall(r'<td class="number">([^<]*)</td>', text)


def _dates(text: str) -> list[str]:
    return re.findall(r'<td class="date">([^<]*)</td>', text)


def _fast_runner(harness) -> None:
    """The demo's mirror without the sync's pacing (1.3 s a call is the mirror's concern, tested
    there), through the service's seam for a mirror of its own."""
    ctx = harness.app.state.context

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice.for_connection(
            ctx.manager,
            connection_id,
            organization_id,
            http_client=ctx.api_http_client,
            budget=UnlimitedBudget(),
            max_retries=0,
        )

    use_runner(ctx, SyncRunner(ctx, mirror=Mirror(ctx.vault, client_factory=client)))


def _press_sync(harness, conn) -> None:
    page = harness.web.get("/")
    answer = harness.web.post(
        f"/demo/connections/{conn.id}/sync",
        data={"csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def seeded(demo_harness):
    """Franz (eu, one organization: bound on connect) with 30 invoices in his organization,
    synced into the mirror with the panel's Sync button."""
    harness = demo_harness
    harness.web.get("/")
    assert harness.connect(owner="demo-user", email=FRANZ).status_code == 200
    [conn] = harness.vault.list_connections()
    assert conn.organization_id is not None
    seed_organization(harness.world, conn.organization_id, contacts=8, items=4, invoices=30, seed=3)
    _fast_runner(harness)
    before = harness.web.get("/").text
    # Never synced: this view started the first sync in the background, and says so.
    assert "not synced yet" in before and "syncing…" in before
    _settled(harness)
    after = harness.web.get("/").text
    assert len(_rows(after)) == 10 and "syncing…" not in after
    assert 'http-equiv="refresh"' not in after
    _press_sync(harness, conn)
    return harness, conn


def _settled(harness) -> None:
    """Wait (on the app's loop) for every sync the dashboard started to end."""
    runner = runner_for(harness.app.state.context)
    assert harness.web.portal is not None
    harness.web.portal.call(runner.idle)


def test_the_panel_is_read_from_the_mirror_without_asking_zoho(seeded) -> None:
    harness, conn = seeded
    page = harness.web.get("/?status=syncing")
    assert "synced just now" in page.text and "The sync ran" in page.text
    assert 'action="/demo/connections/' + str(conn.id) + '/sync"' in page.text
    lists = len(harness.world.journal.entries("invoice.GET /invoices"))
    contacts = len(harness.world.journal.entries("invoice.GET /contacts"))
    for number in (1, 2, 3):
        harness.web.get(f"/?connection={conn.id}&page={number}&per_page=10")
    assert len(harness.world.journal.entries("invoice.GET /invoices")) == lists
    assert len(harness.world.journal.entries("invoice.GET /contacts")) == contacts


def test_the_sync_button_needs_the_csrf_token(seeded) -> None:
    harness, conn = seeded
    lists = len(harness.world.journal.entries("invoice.GET /invoices"))
    answer = harness.web.post(f"/demo/connections/{conn.id}/sync", data={"csrf_token": "x"})
    assert answer.status_code == 403
    assert len(harness.world.journal.entries("invoice.GET /invoices")) == lists


def test_dashboard_shows_the_latest_invoices_newest_first_with_paging(seeded) -> None:
    harness, conn = seeded
    page1 = harness.web.get("/")
    assert page1.status_code == 200
    numbers = _rows(page1.text)
    assert len(numbers) == 10
    dates = _dates(page1.text)
    assert dates == sorted(dates, reverse=True)
    for column in ("Customer", "Due", "Status", "Total", "Balance"):
        assert f"<th>{column}</th>" in page1.text or f'<th class="num">{column}</th>' in page1.text
    assert 'rel="next"' in page1.text and 'rel="prev"' not in page1.text
    nxt = re.search(r'href="([^"]+)">Next', page1.text)
    assert nxt
    page2 = harness.web.get(nxt.group(1).replace("&amp;", "&"))
    numbers2 = _rows(page2.text)
    assert len(numbers2) == 10 and not set(numbers) & set(numbers2)
    assert _dates(page2.text)[0] <= dates[-1]
    assert 'rel="prev"' in page2.text
    page3 = harness.web.get(f"/?connection={conn.id}&page=3&per_page=10")
    assert len(_rows(page3.text)) == 10
    assert 'rel="next"' not in page3.text  # 30 invoices: no fourth page
    wide = harness.web.get(f"/?connection={conn.id}&per_page=25")
    assert len(_rows(wide.text)) == 25
    # The list the person sees is the mirror's, newest first, read without a call to Zoho.
    assert "synced just now" in page1.text


def test_creating_an_invoice_puts_it_on_top_with_a_flash(seeded) -> None:
    harness, conn = seeded
    page = harness.web.get("/")
    customer_id, customer_name = re.findall(
        r'<option value="(\d+)">([^<]+)</option>', page.text.split('name="customer_id"')[1]
    )[0]
    item_id = re.findall(r'<option value="(\d+)"', page.text.split('name="item_id"')[1])[0]
    today = datetime.now(UTC).date().isoformat()
    created = harness.web.post(
        f"/demo/connections/{conn.id}/invoices",
        data={
            "csrf_token": _csrf(page.text),
            "customer_id": customer_id,
            "date": today,
            "item_id": [item_id, "", ""],
            "description": ["", "Assembly and delivery", ""],
            "quantity": ["2", "1", ""],
            "rate": ["", "49.50", ""],
            "tax_id": _selected_tax(page.text),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    after = harness.web.get(created.headers["location"])
    assert "was created" in after.text
    top = after.text.split('<tr class="invoice')[1]
    assert top.startswith(" created")
    assert customer_name in top and today in top
    with harness.app.state.context.invoice_client(str(conn.id)) as client:
        newest = client.invoices.list(per_page=1, sort_column="date", sort_order="D").items[0]
        invoice = client.invoices.get(newest.invoice_id)
    assert f"Invoice {invoice.invoice_number} was created." in after.text
    assert [line.name for line in invoice.line_items][1] == "Assembly and delivery"
    assert invoice.line_items[0].quantity == 2
    # Every line pays the organization's standard VAT rate the form started with.
    assert {line.tax_name for line in invoice.line_items} == {"VAT 19%"}
    assert invoice.tax_total is not None and invoice.tax_total > 0


def test_an_invoice_created_while_a_sync_runs_shows_at_once_and_is_mirrored_next(
    seeded,
) -> None:
    """The create cannot sync while another sync of the connection runs (a first sync takes
    minutes within its share): the invoice Zoho answered shows on top until the mirror has it,
    and an invoices sync follows the running one."""
    harness, conn = seeded
    runner = runner_for(harness.app.state.context)
    page = harness.web.get("/")
    customer_id = re.findall(r'<option value="(\d+)">', page.text.split('name="customer_id"')[1])[0]
    assert runner.claim(str(conn.id))  # a sync of the connection runs here
    created = harness.web.post(
        f"/demo/connections/{conn.id}/invoices",
        data={
            "csrf_token": _csrf(page.text),
            "customer_id": customer_id,
            "date": datetime.now(UTC).date().isoformat(),
            "item_id": [""],
            "description": ["While syncing"],
            "quantity": ["1"],
            "rate": ["10"],
            "tax_id": _selected_tax(page.text),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    invoice_id = created.headers["location"].split("created=")[1].split("#")[0]
    mirrored = {r.id for r in runner.mirror.records(str(conn.id), "invoices", limit=100)}
    assert invoice_id not in mirrored  # not synced: the running sync holds the connection
    after = harness.web.get(created.headers["location"])
    assert "was created" in after.text
    assert after.text.split('<tr class="invoice')[1].startswith(" created")
    assert f'data-invoice-id="{invoice_id}"' in after.text

    # The running sync ends (run() is how every sync of the runner ends): the follow-up the
    # create asked for runs, and the mirror holds the invoice.
    assert harness.web.portal is not None
    harness.web.portal.call(lambda: runner.run(str(conn.id), resources=["items"]))
    _settled(harness)
    mirrored = {r.id for r in runner.mirror.records(str(conn.id), "invoices", limit=100)}
    assert invoice_id in mirrored


def test_s51_the_demo_answers_only_its_own_host_names(seeded) -> None:
    """A DNS-rebinding page (evil.example resolving to 127.0.0.1) reaches the demo with its own
    host name: it can neither read the dashboard nor create an invoice through it."""
    harness, conn = seeded
    page = harness.web.get("/")
    token, cookie = _csrf(page.text), harness.web.cookies.get(CSRF_COOKIE)
    assert cookie
    customer_id = re.findall(r'<option value="(\d+)">', page.text.split('name="customer_id"')[1])[0]
    form = {
        "csrf_token": token,
        "customer_id": customer_id,
        "date": datetime.now(UTC).date().isoformat(),
        "description": ["Rebound"],
        "quantity": ["1"],
        "rate": ["10"],
        "tax_id": _selected_tax(page.text),
    }
    posts = len(harness.world.journal.entries("invoice.POST /invoices"))
    with TestClient(harness.app, base_url="http://evil.example") as rebound:
        rebound.cookies.set(CSRF_COOKIE, cookie)
        assert rebound.get("/").status_code == 400
        assert rebound.get("/", headers={"Host": "evil.example:8000"}).status_code == 400
        created = rebound.post(
            f"/demo/connections/{conn.id}/invoices", data=form, follow_redirects=False
        )
        assert created.status_code == 400
        assert "Invoice" not in created.text
    assert len(harness.world.journal.entries("invoice.POST /invoices")) == posts
    # Its own names: the public URL's (testserver here) and loopback.
    for host in ("testserver", "127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        assert harness.web.get("/healthz", headers={"Host": host}).status_code == 200, host
    # The same form from the demo's own host goes through.
    ok = harness.web.post(
        f"/demo/connections/{conn.id}/invoices", data=form, follow_redirects=False
    )
    assert ok.status_code == 303, ok.text
    assert len(harness.world.journal.entries("invoice.POST /invoices")) == posts + 1


def test_a_zoho_error_shows_its_message_and_keeps_what_was_typed(seeded) -> None:
    harness, conn = seeded
    page = harness.web.get("/")
    customer_id = re.findall(r'<option value="(\d+)"', page.text.split('name="customer_id"')[1])[0]
    before = len(_rows(harness.web.get(f"/?connection={conn.id}&per_page=25").text))
    harness.world.faults.add(
        "invoice.POST /invoices",
        Fault(status=400, body={"code": 1001, "message": "Invoice number INV-1 already exists."}),
    )
    answer = harness.web.post(
        f"/demo/connections/{conn.id}/invoices",
        data={
            "csrf_token": _csrf(page.text),
            "customer_id": customer_id,
            "date": "2025-03-04",
            "item_id": [""],
            "description": ["Frame <welding> & paint"],
            "quantity": ["3"],
            "rate": ["120"],
        },
    )
    assert answer.status_code == 400
    assert "Invoice number INV-1 already exists." in answer.text
    assert 'value="Frame &lt;welding&gt; &amp; paint"' in answer.text
    assert 'value="2025-03-04"' in answer.text and 'value="120"' in answer.text
    assert f'<option value="{customer_id}" selected>' in answer.text
    assert "Frame <welding>" not in answer.text
    assert len(_rows(harness.web.get(f"/?connection={conn.id}&per_page=25").text)) == before


def test_a_form_mistake_is_explained_before_anything_reaches_zoho(seeded) -> None:
    harness, conn = seeded
    page = harness.web.get("/")
    posts = len(harness.world.journal.entries("invoice.POST /invoices"))
    answer = harness.web.post(
        f"/demo/connections/{conn.id}/invoices",
        data={
            "csrf_token": _csrf(page.text),
            "customer_id": "",
            "date": "2025-03-04",
            "description": ["Wheels"],
            "quantity": ["two"],
            "rate": ["10"],
        },
    )
    assert answer.status_code == 400
    assert "Choose a customer." in answer.text
    assert 'value="two"' in answer.text
    assert len(harness.world.journal.entries("invoice.POST /invoices")) == posts


def test_the_create_form_needs_the_csrf_token(seeded) -> None:
    harness, conn = seeded
    harness.web.get("/")
    answer = harness.web.post(
        f"/demo/connections/{conn.id}/invoices",
        data={"csrf_token": "forged", "customer_id": "1", "description": ["x"], "rate": ["1"]},
    )
    assert answer.status_code == 403
    assert harness.world.journal.entries("invoice.POST /invoices") == []


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        (Fault(status=429, body={"code": 44, "message": "Too many requests."}), "RateLimitError"),
        (Fault(status=500, body={"code": 9, "message": "Backend on fire"}), "Backend on fire"),
    ],
)
def test_a_failed_sync_is_a_notice_on_the_dashboard_never_a_500(seeded, fault, shown) -> None:
    harness, conn = seeded
    harness.world.faults.add("invoice.GET /invoices", fault, times=5)
    _press_sync(harness, conn)
    page = harness.web.get("/")
    assert page.status_code == 200
    assert 'class="notice bad-notice zoho-error"' in page.text
    assert "The last sync failed" in page.text and shown in page.text
    assert len(_rows(page.text)) == 10  # what was synced before still shows
    assert "Connect Zoho Invoice" in page.text


def test_a_connection_that_needs_reconnecting_says_so(seeded) -> None:
    harness, conn = seeded
    # The refresh token dies at Zoho and the access token is forgotten: the next refresh fails.
    tokens = harness.vault.load_tokens(conn.id)
    harness.zoho.post("/_sandbox/revoke", json={"refresh_token": tokens.refresh_token})
    harness.vault.store_refreshed(
        conn.id,
        expected_version=tokens.version,
        access_token="expired-token",
        expires_at=datetime(2000, 1, 1, tzinfo=UTC),
    )
    page = harness.web.get("/")
    assert page.status_code == 200
    assert "must be connected again" in page.text
    assert harness.vault.get_connection(conn.id).status == "needs_reauth"
    # On the next visit the row itself says so, and no invoices are asked for.
    again = harness.web.get("/")
    assert 'class="status needs_reauth"' in again.text
    assert 'id="invoices-' not in again.text


def test_names_from_zoho_are_escaped(seeded) -> None:
    harness, conn = seeded
    with harness.app.state.context.invoice_client(str(conn.id)) as client:
        client.contacts.create(contact_name="<script>alert('x')</script> Ltd")
    _press_sync(harness, conn)
    page = harness.web.get("/")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(" in page.text
