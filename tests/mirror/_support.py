"""Helpers of the mirror tests (``from mirror._support import ...``): the sandbox's Invoice API
in process, a vault connection bound to alice's organization, the client factory the mirror is
given (with its crash seam), and the comparison of the mirror with the sandbox's data.

The mirror's client reaches the sandbox through an ``httpx.MockTransport`` whose handler hands
each request to Starlette's ``TestClient`` of the sandbox's Invoice app: in process (no port),
through the client's whole pipeline (budget, auth, retries, error mapping).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from sandbox_support import ALICE, FULL_ACCESS, mint
from support import Clock
from zoho_invoice._http import httpx
from zoho_invoice.api import UnlimitedBudget, ZohoInvoice
from zoho_invoice.datacenters import DataCenterTable
from zoho_invoice.mirror import RESOURCES, ResourceName
from zoho_invoice.oauth import OAuthClient
from zoho_invoice.oauth._types import TokenSet
from zoho_invoice.tokens import TokenManager
from zoho_invoice.vault import Vault
from zoho_invoice.vault._mirror_models import MIRROR_TABLES
from zoho_invoice_sandbox import SandboxWorld
from zoho_invoice_sandbox.invoice import InvoiceLimits, create_invoice_app

API_DOMAIN = "http://sandbox.test/api/us"
API = "/us/invoice/v3"
#: The seven lists: path, the list's key, one record's key, the id's key.
LISTS: dict[ResourceName, tuple[str, str, str, str]] = {
    "contacts": ("/contacts", "contacts", "contact", "contact_id"),
    "items": ("/items", "items", "item", "item_id"),
    "invoices": ("/invoices", "invoices", "invoice", "invoice_id"),
    "estimates": ("/estimates", "estimates", "estimate", "estimate_id"),
    "customer_payments": ("/customerpayments", "customerpayments", "payment", "payment_id"),
    "credit_notes": ("/creditnotes", "creditnotes", "creditnote", "creditnote_id"),
    "recurring_invoices": (
        "/recurringinvoices",
        "recurring_invoices",
        "recurring_invoice",
        "recurring_invoice_id",
    ),
}


class Crash(Exception):
    """The process 'dies' at this call (raised by the transport, not an HTTP error: the client
    does not retry it)."""


class Sandbox:
    """The sandbox's Invoice API in process, for alice's first organization.

    ``call`` is a user working in Zoho (creates, edits, deletes); ``transport()`` is what the
    mirror's client sends through, with a crash armed by ``crash_at(n, after=...)``: the n-th
    request from now fails before it reaches the sandbox, or after the sandbox handled it (the
    answer lost).
    """

    def __init__(self, clock: Clock, limits: InvoiceLimits | None = None) -> None:
        self.clock = clock
        self.world = SandboxWorld(base_url="http://sandbox.test", clock=clock)
        app = create_invoice_app(
            self.world,
            limits or InvoiceLimits(per_minute=1_000_000, daily=10_000_000, concurrent=1_000),
        )
        self.http = TestClient(app)
        alice = self.world.directory.user_by_email(ALICE)
        assert alice is not None
        self.user_id = alice.user_id
        self.org = alice.organization_ids[0]
        self.token = ""
        self.headers: dict[str, str] = {}
        self.remint()
        self.requests = 0
        self._crash_in: int | None = None
        self._crash_after = False

    def remint(self) -> None:
        """A fresh access token of alice (after the clock moved past the last one's hour)."""
        self.token = mint(self.world, ALICE, FULL_ACCESS)
        self.headers = {
            "Authorization": f"Zoho-oauthtoken {self.token}",
            "X-com-zoho-invoice-organizationid": self.org,
        }

    def close(self) -> None:
        self.http.close()
        self.world.close()

    # -- a user in Zoho -------------------------------------------------------------------

    def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> tuple[int, dict[str, Any]]:
        answer = self.http.request(
            method, f"{API}{path}", headers=self.headers, json=json, params=params
        )
        return answer.status_code, dict(answer.json())

    def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        status, body = self.call(method, path, **kw)
        assert body.get("code") == 0, (status, body)
        return body

    def all_rows(self, resource: ResourceName) -> list[dict[str, Any]]:
        path, key, _, _ = LISTS[resource]
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.ok("GET", path, params={"page": page, "per_page": 200})
            rows.extend(body[key])
            if not body["page_context"]["has_more_page"]:
                return rows
            page += 1

    def detail(self, resource: ResourceName, record_id: str) -> dict[str, Any]:
        path, _, one, _ = LISTS[resource]
        return dict(self.ok("GET", f"{path}/{record_id}")[one])

    def records(self, resource: ResourceName) -> dict[str, dict[str, Any]]:
        """Every record of ``resource`` as ``GET /<resource>/{id}`` answers it, by id."""
        id_key = LISTS[resource][3]
        return {
            str(r[id_key]): self.detail(resource, str(r[id_key])) for r in self.all_rows(resource)
        }

    # -- the mirror's side ----------------------------------------------------------------

    def crash_at(self, n: int, *, after: bool = False) -> None:
        """The ``n``-th request of the mirror from now (1 = the next) raises ``Crash``."""
        self._crash_in, self._crash_after = n, after

    def disarm(self) -> None:
        self._crash_in = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The sandbox's answer to one request of the mirror's client (the crash seam first)."""
        self.requests += 1
        crash = False
        if self._crash_in is not None:
            self._crash_in -= 1
            if self._crash_in <= 0:
                self._crash_in = None
                crash = True
        if crash and not self._crash_after:
            raise Crash("crashed before the request reached Zoho")
        url = request.url
        path = url.path.removeprefix("/api")
        answer = self.http.request(
            request.method,
            path,
            params=list(url.params.multi_items()),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=request.content,
        )
        if crash:
            raise Crash("crashed after Zoho answered")
        return httpx.Response(
            answer.status_code, headers=list(answer.headers.items()), content=answer.content
        )

    def client(self, connection_id: str, organization_id: str) -> ZohoInvoice:
        """The mirror's ``ClientFactory``: a client of alice's token (whatever the connection),
        through the crash seam."""
        return ZohoInvoice(
            access_token=self.token,
            organization_id=organization_id,
            api_domain=API_DOMAIN,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handle)),
            budget=UnlimitedBudget(),
            max_retries=0,
            sleep=lambda _s: None,
            clock=self.clock,
        )


def connect(vault: Vault, sandbox: Sandbox, *, owner: str = "owner-1") -> str:
    """A connection of alice bound to her first organization; its id."""
    tokens = TokenSet(
        access_token=sandbox.token,
        refresh_token="1000.refresh.mirror",
        expires_at=datetime.fromtimestamp(sandbox.clock.now, UTC) + timedelta(hours=1),
        api_domain=API_DOMAIN,
        token_type="Bearer",
        scope="ZohoInvoice.fullaccess.all",
    )
    connection, _ = vault.connections.save(
        owner=owner,
        location="us",
        api_domain=API_DOMAIN,
        scopes=["ZohoInvoice.fullaccess.all"],
        tokens=tokens,
        zoho_user_id=sandbox.user_id,
    )
    vault.connections.set_organization(connection.id, sandbox.org)
    return connection.id


class NoRefresh(Exception):
    """The test's token manager asked Zoho Accounts for a token: a missing scope must not."""


def connect_with_scopes(
    vault: Vault, sandbox: Sandbox, scopes: list[str], *, owner: str = "owner-scoped"
) -> tuple[str, TokenManager, list[str]]:
    """A connection of alice whose grant holds ``scopes`` only (the sandbox enforces them),
    bound to her first organization, and the real ``TokenManager`` that hands its token out and
    tells a missing scope from a dead token. Its Zoho Accounts refuses every refresh
    (``NoRefresh``) and notes it in the list returned third."""
    refreshes: list[str] = []

    def no_accounts(request: httpx.Request) -> httpx.Response:
        refreshes.append(request.url.path)
        raise NoRefresh(request.url.path)

    token = mint(sandbox.world, ALICE, scopes)
    tokens = TokenSet(
        access_token=token,
        refresh_token="1000.refresh.scoped",
        expires_at=datetime.fromtimestamp(sandbox.clock.now, UTC) + timedelta(hours=1),
        api_domain=API_DOMAIN,
        token_type="Bearer",
        scope=",".join(scopes),
    )
    connection, _ = vault.connections.save(
        owner=owner,
        location="us",
        api_domain=API_DOMAIN,
        scopes=scopes,
        tokens=tokens,
        zoho_user_id=sandbox.user_id,
    )
    vault.connections.set_organization(connection.id, sandbox.org)
    oauth = OAuthClient(
        client_id="1000.TEST",
        client_secret=SecretStr("secret"),
        redirect_uri="http://app.example/cb",
        scopes=scopes,
        datacenters=DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(no_accounts)),
    )
    return connection.id, TokenManager(vault, oauth, clock=sandbox.clock), refreshes


def manager_client_factory(sandbox: Sandbox, manager: TokenManager) -> Any:
    """A ``ClientFactory`` whose clients take the connection's token from ``manager`` and reach
    the in-process sandbox."""

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice.for_connection(
            manager,
            connection_id,
            organization_id,
            http_client=httpx.Client(transport=httpx.MockTransport(sandbox.handle)),
            budget=UnlimitedBudget(),
            max_retries=0,
            sleep=lambda _s: None,
            clock=sandbox.clock,
        )

    return client


def mirrored(
    engine: Engine, connection_id: str, organization_id: str, resource: ResourceName
) -> tuple[dict[str, dict[str, Any]], dict[str, str], set[str]]:
    """The mirror's live rows of ``resource`` (``data`` by id), each live row's level, and the
    ids marked deleted."""
    table = MIRROR_TABLES[resource]
    live: dict[str, dict[str, Any]] = {}
    levels: dict[str, str] = {}
    deleted: set[str] = set()
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.id, table.data, table.level, table.deleted_at).where(
                table.connection_id == connection_id,
                table.organization_id == organization_id,
            )
        ).all()
    for record_id, data, level, deleted_at in rows:
        if deleted_at is not None:
            deleted.add(record_id)
        else:
            live[record_id] = data
            levels[record_id] = level
    return live, levels, deleted


def assert_mirror_equals_sandbox(
    engine: Engine,
    connection_id: str,
    sandbox: Sandbox,
    resources: tuple[ResourceName, ...] = RESOURCES,
) -> None:
    """Record for record, field for field: the mirror's live rows are Zoho's records (each at
    level detail), and every other row the mirror has is marked deleted."""
    for resource in resources:
        expected = sandbox.records(resource)
        live, levels, _deleted = mirrored(engine, connection_id, sandbox.org, resource)
        assert set(live) == set(expected), (resource, set(live) ^ set(expected))
        for record_id, record in expected.items():
            assert levels[record_id] == "detail", (resource, record_id)
            assert live[record_id] == record, (resource, record_id)


@contextmanager
def sandbox_on(clock: Clock, limits: InvoiceLimits | None = None) -> Iterator[Sandbox]:
    sandbox = Sandbox(clock, limits)
    try:
        yield sandbox
    finally:
        sandbox.close()
