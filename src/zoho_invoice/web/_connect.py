"""The browser side of connecting: ``GET /connect/{session_token}`` and ``GET /callback``.

The order of the callback's checks is the security design (SECURITY 1-8, 12-16, 19, 40):
parameters are parsed strictly (no duplicates, nothing over-long), a declined consent stops
there, the browser-binding cookie and ``state`` are checked and consumed before anything else,
the data centre is checked against the table before the code is sent anywhere, and the owner of
the new connection comes from the server-side session only.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from .. import _metrics
from .._exceptions import (
    ConnectFlowError,
    DataCenterError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRedirectURIError,
    OAuthError,
    OAuthTransientError,
    TokenResponseError,
    TokenThrottledError,
    VaultUnavailableError,
)
from ._api import is_allowed_return_url
from ._context import WebContext
from ._pages import page, problem_page, redirect

__all__ = ["BINDING_COOKIE", "connect_router"]

logger = logging.getLogger("zoho_invoice.web")

BINDING_COOKIE = "zoho_invoice_binding"
#: The connect transaction lives 10 minutes (SECURITY 4); the cookie no longer.
BINDING_MAX_AGE = 600
MAX_PARAM = 2048
MAX_QUERY = 16 * 1024
MAX_SESSION_TOKEN = 256
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-]+$")

START_AGAIN = "Go back to the app and start connecting again."


class _Refused(Exception):
    def __init__(self, title: str, message: str, hint: str = START_AGAIN, status: int = 400):
        super().__init__(title)
        self.title = title
        self.message = message
        self.hint = hint
        self.status = status


def _parse_query(request: Request) -> dict[str, str]:
    """The callback's parameters: each at most once, none over-long (SECURITY 6, 40)."""
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY:
        raise _Refused(
            "Request too long", "The address is too long to be a Zoho callback.", status=414
        )
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, max_num_fields=32)
    except ValueError:
        raise _Refused("Not a valid callback", "The address has too many parameters.") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if len(key) > MAX_PARAM or len(value) > MAX_PARAM:
            raise _Refused("Not a valid callback", "A parameter of the address is too long.")
        if key in params:
            raise _Refused(
                "Not a valid callback",
                "A parameter appears twice in the address, so it was refused.",
            )
        params[key] = value
    return params


def _scopes(ctx: WebContext, granted: str | None) -> list[str]:
    if granted:
        parts = [p for p in re.split(r"[,\s]+", granted) if p]
        if parts:
            return parts
    return list(ctx.settings.scopes)


def _with_result(url: str, connection_id: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("connection_id", "status")
    ]
    query += [("connection_id", connection_id), ("status", "connected")]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _clear_cookie(ctx: WebContext, response: Response) -> Response:
    response.delete_cookie(
        BINDING_COOKIE,
        path=ctx.callback_path,
        secure=ctx.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def connect_router(ctx: WebContext) -> APIRouter:
    """``/connect/{session_token}`` and ``/callback``, to mount in your own app."""
    router = APIRouter(include_in_schema=False)

    @router.get("/connect/{session_token}")
    def connect(session_token: str, request: Request) -> Response:
        from ..oauth import code_challenge, make_code_verifier, new_state

        if len(session_token) > MAX_SESSION_TOKEN or not _TOKEN_CHARS.match(session_token):
            return problem_page(
                ctx,
                request,
                title="This connect link is not valid",
                message="The link is malformed.",
                hint=START_AGAIN,
            )
        state = new_state()
        binding = secrets.token_urlsafe(32)
        verifier = make_code_verifier()
        try:
            pending = ctx.vault.start_connect(
                session_token, state=state, binding=binding, code_verifier=verifier
            )
        except ConnectFlowError:
            return problem_page(
                ctx,
                request,
                title="This connect link has expired",
                message="Connect links work once and only for a few minutes.",
                hint=START_AGAIN,
            )
        except VaultUnavailableError:
            return problem_page(
                ctx,
                request,
                title="Temporarily unavailable",
                message="The service cannot reach its database right now.",
                hint="Wait a few seconds, then reload this page.",
                status_code=503,
            )
        try:
            url = ctx.oauth.authorization_url(
                state=state,
                code_challenge=code_challenge(verifier),
                location=pending.start_location,
            )
        except DataCenterError:
            # The session names a location the table no longer has (the table was changed).
            return problem_page(
                ctx,
                request,
                title="Unknown Zoho data centre",
                message="This connect link names a Zoho data centre this service does not know.",
                hint=START_AGAIN,
            )
        response = redirect(url)
        response.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=BINDING_MAX_AGE,
            path=ctx.callback_path,
            secure=ctx.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        logger.info("connect started (session from the app, location %s)", pending.start_location)
        return response

    @router.get("/callback")
    def callback(request: Request, background: BackgroundTasks) -> Response:
        try:
            response = _finish(ctx, request, background)
        except _Refused as refused:
            logger.info("callback refused: %s", refused.title)
            _metrics.connect_outcome("refused")
            response = problem_page(
                ctx,
                request,
                title=refused.title,
                message=refused.message,
                hint=refused.hint,
                status_code=refused.status,
            )
        return _clear_cookie(ctx, response)

    return router


def _consume(ctx: WebContext, request: Request, params: dict[str, str]) -> Any:
    """Check the browser binding and the state, and consume the state (SECURITY 1-5)."""
    binding = request.cookies.get(BINDING_COOKIE)
    if not binding or len(binding) > MAX_PARAM:
        raise _Refused(
            "This browser did not start the connection",
            "The connection must be finished in the browser that started it, with cookies "
            "allowed. Nothing was connected.",
        )
    state = params.get("state")
    if not state:
        raise _Refused("Not a valid callback", "Zoho's answer lacks its state parameter.")
    try:
        return ctx.vault.consume_state(state, binding)
    except ConnectFlowError:
        raise _Refused(
            "This connection attempt cannot be finished",
            "It expired, was already used, or was started in another browser. Nothing was "
            "connected.",
        ) from None
    except VaultUnavailableError:
        raise _Refused(
            "Temporarily unavailable",
            "The service cannot reach its database right now. Nothing was connected.",
            status=503,
        ) from None


def _finish(ctx: WebContext, request: Request, background: BackgroundTasks) -> Response:
    params = _parse_query(request)
    if "error" in params:
        # SECURITY 12: the person declined (or Zoho said no); nothing is stored. Only the
        # browser that started this very flow sees it (its state is consumed); anyone else
        # gets the generic page, so a crafted link cannot put words on our page.
        try:
            _consume(ctx, request, params)
        except _Refused as refused:
            if refused.status == 503:
                raise
            raise _Refused(
                "This link is not valid",
                "It does not belong to a connection started in this browser. Nothing was "
                "connected.",
            ) from None
        description = params.get("error_description") or ""
        logger.info("callback: authorization declined")
        _metrics.connect_outcome("declined")
        # The page is autoescaped, so a hostile description cannot inject HTML.
        return page(
            ctx,
            request,
            "declined.html",
            status_code=400,
            error=params["error"][:100],
            description=description[:300],
        )
    pending = _consume(ctx, request, params)
    code = params.get("code")
    if not code:
        raise _Refused("Not a valid callback", "Zoho's answer lacks an authorization code.")
    try:
        dc = ctx.datacenters.check_accounts_server(
            params.get("location"), params.get("accounts-server")
        )
    except DataCenterError:
        # SECURITY 7, 8: the code and the client secret go nowhere but the table's server.
        raise _Refused(
            "Unknown Zoho data centre",
            "The answer names a Zoho data centre or accounts server that this service does not "
            "trust, so the authorization was not used. Nothing was connected.",
        ) from None
    try:
        tokens = ctx.oauth.exchange_code(dc, code, pending.code_verifier)
    except OAuthTransientError:
        raise _Refused(
            "Zoho did not answer",
            "Zoho could not be reached in time, or its answer could not be read. "
            "Authorization codes work only once, so nothing was connected: please connect "
            "again.",
        ) from None
    except InvalidGrantError:
        raise _Refused(
            "The authorization expired",
            "Zoho refused the authorization code: it expired or was already used.",
        ) from None
    except (InvalidClientError, InvalidRedirectURIError):
        raise _Refused(
            "Zoho refused this application",
            "Zoho does not accept this application's client id, secret or redirect URI.",
            hint="Tell the application's administrator; check ZOHO_CLIENT_ID, "
            "ZOHO_CLIENT_SECRET and ZOHO_REDIRECT_URI.",
        ) from None
    except TokenResponseError as exc:
        # Its message says what to fix (access_type=offline, prompt=consent, api_domain) and
        # never carries a token. An api_domain of another DC lands here too (SECURITY 19).
        raise _Refused("Zoho's answer could not be used", str(exc)) from None
    except TokenThrottledError:
        raise _Refused(
            "Zoho is limiting token requests",
            "Zoho Accounts refused to issue tokens right now (too many requests). Nothing was "
            "connected.",
            hint="Wait a few minutes, then go back to the app and connect again.",
        ) from None
    except OAuthError:
        raise _Refused("Zoho refused the connection", "Zoho answered with an error.") from None
    try:
        conn, created = ctx.vault.save_connection(
            owner=pending.owner,
            location=dc.location,
            api_domain=dc.api_domain,
            scopes=_scopes(ctx, tokens.scope),
            tokens=tokens,
        )
    except VaultUnavailableError:
        raise _Refused(
            "Temporarily unavailable",
            "The service cannot reach its database right now. Nothing was connected.",
            status=503,
        ) from None
    organization_name = _bind_organization(ctx, conn, tokens.access_token, dc.api_domain)
    if organization_name is not None or conn.organization_id is not None:
        try:
            conn = ctx.vault.get_connection(conn.id)
        except Exception:  # the page may show stale data, the connection is saved
            logger.warning("could not re-read connection after binding its organization")
    _emit(ctx, conn, created)
    if not created:
        # A reconnect queued the old refresh token: revoke it soon (SECURITY 34).
        background.add_task(ctx.process_revocations)
    logger.info("connection %s %s in %s", conn.id, "created" if created else "renewed", dc.location)
    if pending.return_url and is_allowed_return_url(ctx, pending.return_url):
        return redirect(_with_result(pending.return_url, str(conn.id)))
    return page(
        ctx,
        request,
        "connected.html",
        connection=conn,
        organization_name=organization_name,
        datacenter=dc,
    )


def _bind_organization(
    ctx: WebContext, conn: Any, access_token: str, api_domain: str
) -> str | None:
    """Bind the only organization; with several, the person chooses later. Never fails."""
    try:
        organizations = ctx.organizations(access_token, api_domain)
    except Exception as exc:
        logger.warning(
            "could not read the organizations of a new connection: %s", type(exc).__name__
        )
        return None
    if len(organizations) == 1:
        org_id, name = organizations[0]
        try:
            ctx.vault.set_organization(conn.id, org_id)
        except Exception as exc:
            logger.warning("could not bind the organization: %s", type(exc).__name__)
            return None
        return name
    if conn.organization_id:
        for org_id, name in organizations:
            if org_id == conn.organization_id:
                return name
        # A reconnect (maybe as another Zoho user) whose organizations no longer include the
        # bound one: unbind it, so the person chooses again instead of calls failing.
        try:
            ctx.vault.set_organization(conn.id, None)
        except Exception as exc:
            logger.warning("could not unbind a stale organization: %s", type(exc).__name__)
    return None


def _emit(ctx: WebContext, conn: Any, created: bool) -> None:
    from ..tokens import ConnectionEvent

    _metrics.connect_outcome("created" if created else "reconnected")
    ctx.emit(
        ConnectionEvent(
            type="connection.created" if created else "connection.reconnected",
            connection_id=conn.id,
            owner=conn.owner,
            at=datetime.now(UTC),
            reason=None,
        )
    )
