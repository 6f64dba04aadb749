"""The demo dashboard (``create_app(demo=True)``): connect, list, pick an organization, disconnect.

Its forms carry a CSRF token that must equal the one in the page's cookie (double submit). A
connection that is not the demo's, or is gone, raises ``ConnectionNotFoundError``: the app's
error handlers answer it with the "No such connection" page (``_errors``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from .._exceptions import ConnectionNotFoundError, VaultUnavailableError, ZohoError
from ..vault import Connection
from ._api import set_organization_or_problem
from ._context import WebContext
from ._demo_invoices import (
    PER_PAGE_CHOICES,
    InvoiceForm,
    InvoicePanel,
    describe_error,
)
from ._demo_mirror import PANEL_RESOURCES, load_mirrored_panel, remember_created
from ._errors import APIProblem
from ._pages import page, problem_page, redirect
from ._sync_api import runner_for

__all__ = ["DEMO_OWNER", "demo_router"]

logger = logging.getLogger("zoho_invoice.web")

DEMO_OWNER = "demo-user"
CSRF_COOKIE = "zoho_invoice_demo_csrf"


@dataclass
class _Row:
    conn: Connection
    organization_name: str | None
    choices: list[tuple[str, str]]
    panel: InvoicePanel | None = None


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() and len(value) < 7 else default


def _csrf_ok(request: Request, token: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), token.encode())


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def demo_router(ctx: WebContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def forbidden(request: Request) -> Response:
        return problem_page(
            ctx,
            request,
            title="The form expired",
            message="This form was not sent from the current dashboard page.",
            hint="Reload the dashboard and try again.",
            status_code=403,
        )

    def demo_connection(connection_id: str, *, ready: bool = False) -> Connection:
        """The demo owner's connection (``ready``: active, with an organization)."""
        conn = ctx.vault.get_connection(connection_id[:200])
        if conn.owner != DEMO_OWNER or (
            ready and (conn.status != "active" or not conn.organization_id)
        ):
            raise ConnectionNotFoundError("no such connection")
        return conn

    def organizations_of(conn: Connection) -> list[tuple[str, str]]:
        try:
            orgs = ctx.connection_organizations(str(conn.id))
        except Exception as exc:
            logger.warning("demo: cannot list organizations: %s", type(exc).__name__)
            return []
        return [(o.organization_id, o.name or o.organization_id) for o in orgs]

    def render(
        request: Request,
        *,
        form_for: str | None = None,
        form: InvoiceForm | None = None,
        status_code: int = 200,
    ) -> Response:
        """The dashboard; ``form_for``/``form`` show a failed create form again, as typed."""
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        try:
            connections = ctx.vault.list_connections(owner=DEMO_OWNER)
        except VaultUnavailableError:
            return problem_page(
                ctx,
                request,
                title="Temporarily unavailable",
                message="The database is not answering.",
                hint="Reload in a few seconds.",
                status_code=503,
            )
        paged = request.query_params.get("connection")
        created = request.query_params.get("created")
        rows = []
        for conn in connections:
            choices: list[tuple[str, str]] = []
            name = None
            panel = None
            if conn.status == "active":
                orgs = organizations_of(conn)
                if conn.organization_id:
                    name = next((n for i, n in orgs if i == conn.organization_id), None)
                    mine = paged == str(conn.id) or form_for == str(conn.id)
                    panel = load_mirrored_panel(
                        ctx,
                        runner_for(ctx),
                        conn,
                        name or str(conn.organization_id),
                        page=_int_param(request, "page", 1) if mine else 1,
                        per_page=(
                            _int_param(request, "per_page", PER_PAGE_CHOICES[0])
                            if mine
                            else PER_PAGE_CHOICES[0]
                        ),
                        form=form if form_for == str(conn.id) else None,
                        created_id=created if mine else None,
                    )
                else:
                    choices = orgs
            rows.append(_Row(conn=conn, organization_name=name, choices=choices, panel=panel))
        notice = None
        status = request.query_params.get("status")
        if status == "connected":
            notice = "Zoho Invoice is connected."
        elif status == "disconnected":
            notice = "The connection was disconnected and its tokens revoked."
        elif status == "organization":
            notice = "The organization is bound to the connection."
        elif status == "syncing":
            notice = "The sync ran: the invoices below are the mirror's."
        elif status == "sync-running":
            notice = "A sync of this connection is already running; reload in a moment."
        response = page(
            ctx,
            request,
            "dashboard.html",
            status_code=status_code,
            rows=rows,
            owner=DEMO_OWNER,
            csrf_token=csrf,
            notice=notice,
            base_path=_base(request),
            per_page_choices=PER_PAGE_CHOICES,
        )
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=ctx.secure_cookies
        )
        return response

    @router.get("/")
    def dashboard(request: Request) -> Response:
        return render(request)

    @router.post("/demo/connections/{connection_id}/invoices")
    def demo_create_invoice(
        connection_id: str,
        request: Request,
        csrf_token: str = Form(max_length=100),
        customer_id: str = Form(default="", max_length=64),
        date: str = Form(default="", max_length=32),
        item_id: list[str] = Form(default=[]),
        description: list[str] = Form(default=[]),
        quantity: list[str] = Form(default=[]),
        rate: list[str] = Form(default=[]),
        tax_id: str = Form(default="", max_length=64),
    ) -> Response:
        if not _csrf_ok(request, csrf_token):
            return forbidden(request)
        form = InvoiceForm.from_fields(
            customer_id=customer_id[:64],
            date_text=date[:32],
            item_ids=[v[:64] for v in item_id],
            descriptions=[v[:500] for v in description],
            quantities=[v[:32] for v in quantity],
            rates=[v[:32] for v in rate],
            tax_id=tax_id,
        )
        conn = demo_connection(connection_id, ready=True)
        try:
            body = form.body()
        except ValueError as exc:
            form.error = str(exc)
            return render(request, form_for=str(conn.id), form=form, status_code=400)
        try:
            with ctx.invoice_client(str(conn.id)) as client:
                invoice = client.invoices.create(body)
        except ZohoError as exc:
            logger.warning("demo: creating an invoice failed: %s", type(exc).__name__)
            form.error = describe_error(exc)
            return render(request, form_for=str(conn.id), form=form, status_code=400)
        runner = runner_for(ctx)
        if runner.claim(str(conn.id)):  # the new invoice into the mirror the panel reads
            try:
                runner.rounds.run(str(conn.id), resources=["invoices"])
            except ZohoError as exc:
                logger.warning("demo: the sync after a create failed: %s", type(exc).__name__)
            finally:
                runner.release(str(conn.id))
        else:  # a sync runs (the first one, say): show it now, mirror it right after
            remember_created(str(conn.id), invoice)
            runner.again_after(str(conn.id), ["invoices"])
        return redirect(
            f"{_base(request)}/?connection={conn.id}&created={invoice.invoice_id}#invoices-{conn.id}"
        )

    @router.post("/demo/connections/{connection_id}/sync")
    def demo_sync(
        connection_id: str,
        request: Request,
        background: BackgroundTasks,
        csrf_token: str = Form(max_length=100),
    ) -> Response:
        """The panel's Sync button: its resources, in the background (after the answer)."""
        if not _csrf_ok(request, csrf_token):
            return forbidden(request)
        conn = demo_connection(connection_id, ready=True)
        runner = runner_for(ctx)
        if not runner.claim(str(conn.id)):
            return redirect(f"{_base(request)}/?status=sync-running#invoices-{conn.id}")
        background.add_task(runner.run, str(conn.id), resources=list(PANEL_RESOURCES))
        return redirect(f"{_base(request)}/?status=syncing#invoices-{conn.id}")

    @router.post("/demo/connect")
    def demo_connect(request: Request, csrf_token: str = Form(max_length=100)) -> Response:
        if not _csrf_ok(request, csrf_token):
            return forbidden(request)
        token, _ = ctx.vault.create_connect_session(
            owner=DEMO_OWNER, return_url=ctx.settings.public_url + "/", location=None
        )
        return redirect(f"{_base(request)}/connect/{token}")

    @router.post("/demo/connections/{connection_id}/disconnect")
    def demo_disconnect(
        connection_id: str,
        request: Request,
        background: BackgroundTasks,
        csrf_token: str = Form(max_length=100),
    ) -> Response:
        if not _csrf_ok(request, csrf_token):
            return forbidden(request)
        ctx.disconnect(demo_connection(connection_id).id)  # with its connection.revoked
        background.add_task(ctx.process_revocations)
        return redirect(f"{_base(request)}/?status=disconnected")

    @router.post("/demo/connections/{connection_id}/organization")
    def demo_choose_organization(
        connection_id: str,
        request: Request,
        csrf_token: str = Form(max_length=100),
        organization_id: str = Form(max_length=64),
    ) -> Response:
        if not _csrf_ok(request, csrf_token):
            return forbidden(request)
        conn = demo_connection(connection_id)
        try:
            # The JSON API's code path: only an organization Zoho lists for the user is bound.
            set_organization_or_problem(ctx, str(conn.id), organization_id)
        except APIProblem as problem:
            if problem.error == "unknown_organization":
                message = "It is not one of this connection's organizations."
            else:
                message = problem.message
            return problem_page(
                ctx,
                request,
                title="That organization cannot be used",
                message=message,
                hint="Go back to the dashboard and choose again.",
                status_code=400 if problem.status_code < 500 else problem.status_code,
            )
        return redirect(f"{_base(request)}/?status=organization")

    return router
