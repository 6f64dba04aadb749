"""The demo dashboard (``create_app(demo=True)``): connect, list, pick an organization, disconnect.

Its forms carry a CSRF token that must equal the one in the page's cookie (double submit).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from .._exceptions import ConnectionNotFoundError, VaultUnavailableError, ZohoError
from ._context import WebContext
from ._pages import page, problem_page, redirect

__all__ = ["DEMO_OWNER", "demo_router"]

logger = logging.getLogger("zoho_invoice.web")

DEMO_OWNER = "demo-user"
CSRF_COOKIE = "zoho_invoice_demo_csrf"


@dataclass
class _Row:
    conn: Any
    organization_name: str | None
    choices: list[tuple[str, str]]


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

    def organizations_of(conn: Any) -> list[tuple[str, str]]:
        try:
            token = ctx.manager.get_access_token(conn.id)
            return ctx.organizations(token.token, conn.api_domain)
        except Exception as exc:
            logger.warning("demo: cannot list organizations: %s", type(exc).__name__)
            return []

    @router.get("/")
    def dashboard(request: Request) -> Response:
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
        rows = []
        for conn in connections:
            choices: list[tuple[str, str]] = []
            name = None
            if conn.status == "active":
                orgs = organizations_of(conn)
                if conn.organization_id:
                    name = next((n for i, n in orgs if i == conn.organization_id), None)
                else:
                    choices = orgs
            rows.append(_Row(conn=conn, organization_name=name, choices=choices))
        notice = None
        status = request.query_params.get("status")
        if status == "connected":
            notice = "Zoho Invoice is connected."
        elif status == "disconnected":
            notice = "The connection was disconnected and its tokens revoked."
        response = page(
            ctx,
            request,
            "dashboard.html",
            rows=rows,
            owner=DEMO_OWNER,
            csrf_token=csrf,
            notice=notice,
            base_path=_base(request),
        )
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=ctx.secure_cookies
        )
        return response

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
        try:
            conn = ctx.vault.get_connection(connection_id)
            if conn.owner != DEMO_OWNER:
                raise ConnectionNotFoundError("no such connection")
            ctx.vault.disconnect(conn.id)
        except ConnectionNotFoundError:
            return problem_page(
                ctx,
                request,
                title="No such connection",
                message="It may have been removed already.",
                hint="Go back to the dashboard.",
                status_code=404,
            )
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
        try:
            conn = ctx.vault.get_connection(connection_id)
            if conn.owner != DEMO_OWNER:
                raise ConnectionNotFoundError("no such connection")
            # Only an organization this connection's user really has can be bound.
            if organization_id not in {i for i, _ in organizations_of(conn)}:
                raise ZohoError("unknown organization")
            ctx.vault.set_organization(conn.id, organization_id)
        except ZohoError:
            return problem_page(
                ctx,
                request,
                title="That organization cannot be used",
                message="It is not one of this connection's organizations.",
                hint="Go back to the dashboard and choose again.",
                status_code=400,
            )
        return redirect(f"{_base(request)}/")

    return router
