"""The browser side of connecting: ``GET /connect/{session_token}`` and ``GET /callback``.

The order of the callback's checks is the security design (SECURITY 1-8, 12-16, 19, 40,
44-46, 51): parameters are parsed strictly (no duplicates, nothing over-long), a declined consent
stops there, the browser-binding cookie of this very flow and ``state`` are checked (by a read:
a failure writes nothing) and consumed before anything else, the data centre is checked against
the table and against the region the flow started in before the code is sent anywhere, the new
token's Zoho user is identified before anything is stored, and the owner of the new connection
comes from the server-side session only.

Each flow has a binding cookie of its own, named after a hash of its ``state``: a stray or
forged callback cannot clear the binding of a flow still in progress, and two flows started in
one browser both complete (SECURITY 46). Only a callback that consumed its state clears its
cookie.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import UTC, datetime
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
from ..datacenters import DataCenter
from ..oauth._types import TokenSet
from ..tokens import ConnectionEvent
from ..vault import Connection, ConnectSession
from ._api import is_allowed_return_url
from ._context import WebContext
from ._pages import page, problem_page, redirect

__all__ = ["BINDING_COOKIE", "binding_cookie_name", "connect_router"]

logger = logging.getLogger("zoho_invoice.web")

#: The prefix of the binding cookies; each flow's is ``binding_cookie_name(state)``.
BINDING_COOKIE = "zoho_invoice_binding"
#: The one data centre a flow must start at to end there, and never end at otherwise
#: (SECURITY 45): Zoho's US server sends users of the other DCs to their own, not China's.
CHINA = "cn"
#: A started connect session lives 10 minutes (SECURITY 4); the cookie no longer.
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


def binding_cookie_name(state: str) -> str:
    """The binding cookie of the flow ``state`` names (SECURITY 46).

    A hash, so the name carries nothing of the state and any state (even a hostile one) makes a
    valid, short cookie name.
    """
    digest = hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{BINDING_COOKIE}_{digest[:16]}"


class _Flow:
    """What one callback did so far: the state it consumed, if any (its cookie is cleared)."""

    consumed: str | None = None


def _clear_cookie(ctx: WebContext, response: Response, state: str) -> Response:
    response.delete_cookie(
        binding_cookie_name(state),
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
            connect_session = ctx.vault.start_connect(
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
                location=connect_session.start_location,
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
            binding_cookie_name(state),
            binding,
            max_age=BINDING_MAX_AGE,
            path=ctx.callback_path,
            secure=ctx.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        logger.info(
            "connect started (session from the app, location %s)", connect_session.start_location
        )
        return response

    @router.get("/callback")
    def callback(request: Request, background: BackgroundTasks) -> Response:
        flow = _Flow()
        try:
            response = _finish(ctx, request, background, flow)
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
        # Only the flow whose state this callback consumed loses its binding (SECURITY 46).
        if flow.consumed is not None:
            _clear_cookie(ctx, response, flow.consumed)
        return response

    return router


def _consume(
    ctx: WebContext, request: Request, params: dict[str, str], flow: _Flow
) -> ConnectSession:
    """Check this flow's browser binding and the state, and consume the state (SECURITY 1-5)."""
    state = params.get("state")
    if not state:
        raise _Refused("Not a valid callback", "Zoho's answer lacks its state parameter.")
    binding = request.cookies.get(binding_cookie_name(state))
    if not binding or len(binding) > MAX_PARAM:
        raise _Refused(
            "This browser did not start the connection",
            "The connection must be finished in the browser that started it, with cookies "
            "allowed. Nothing was connected.",
        )
    try:
        connect_session = ctx.vault.consume_state(state, binding)
        flow.consumed = state
        return connect_session
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


def _finish(
    ctx: WebContext, request: Request, background: BackgroundTasks, flow: _Flow
) -> Response:
    params = _parse_query(request)
    if "error" in params:
        # SECURITY 12: the person declined, or Zoho said no (access_denied is also Zoho's
        # throttle of authorization codes, so the page claims no refusal); nothing is stored.
        # Only the browser that started this very flow sees it (its state is consumed); anyone
        # else gets the generic page, so a crafted link cannot put words on our page.
        try:
            _consume(ctx, request, params, flow)
        except _Refused as refused:
            if refused.status == 503:
                raise
            raise _Refused(
                "This link is not valid",
                "It does not belong to a connection started in this browser. Nothing was "
                "connected.",
            ) from None
        description = params.get("error_description") or ""
        logger.info("callback: Zoho did not authorize (declined or throttled)")
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
    connect_session = _consume(ctx, request, params, flow)
    code = params.get("code")
    if not code:
        raise _Refused("Not a valid callback", "Zoho's answer lacks an authorization code.")
    try:
        datacenter = ctx.datacenters.check_accounts_server(
            params.get("location"), params.get("accounts-server")
        )
    except DataCenterError:
        # SECURITY 7, 8: the code and the client secret go nowhere but the table's server.
        raise _Refused(
            "Unknown Zoho data centre",
            "The answer names a Zoho data centre or accounts server that this service does not "
            "trust, so the authorization was not used. Nothing was connected.",
        ) from None
    _check_region(ctx, connect_session.start_location, datacenter)
    try:
        tokens = ctx.oauth.exchange_code(datacenter, code, connect_session.code_verifier)
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
    organizations, zoho_user_id, asked_in = _identify(ctx, datacenter, tokens)
    claim = _legacy_claim(ctx, connect_session.owner, datacenter, zoho_user_id, asked_in)
    try:
        # The connection and its connection.created / .reconnected event commit together: a
        # failed enqueue fails the save too (and the tokens are given back below).
        with ctx.vault.unit_of_work():
            conn, created = ctx.vault.save_connection(
                owner=connect_session.owner,
                location=datacenter.location,
                api_domain=datacenter.api_domain,
                scopes=_scopes(ctx, tokens.scope),
                tokens=tokens,
                zoho_user_id=zoho_user_id,
                claim=claim,
            )
            _emit(ctx, conn, created)
    except VaultUnavailableError:
        _give_back(ctx, datacenter, tokens, queue=False)
        raise _Refused(
            "Temporarily unavailable",
            "The service cannot reach its database right now. Nothing was connected.",
            status=503,
        ) from None
    except Exception as exc:
        # Any other failure to store (a lost race on the unique key, an input the vault
        # refuses): the refresh token Zoho just minted would take one of the user's 20 for
        # nothing, so it is given back (SECURITY 34). Only the type is logged: a database
        # error's text can carry the statement's parameters.
        logger.error("could not save a new connection: %s", type(exc).__name__)
        _give_back(ctx, datacenter, tokens)
        raise _Refused(
            "The connection could not be saved",
            "Zoho authorized the connection, but the service could not store it, so the "
            "authorization was given back. Nothing was connected.",
            status=500,
        ) from None
    organization_name = _bind_organization(ctx, conn, organizations)
    if organization_name is not None or conn.organization_id is not None:
        try:
            conn = ctx.vault.get_connection(conn.id)
        except Exception:  # the page may show stale data, the connection is saved
            logger.warning("could not re-read connection after binding its organization")
    _metrics.connect_outcome("created" if created else "reconnected")
    if not created:
        # A reconnect queued the old refresh token: revoke it soon (SECURITY 34).
        background.add_task(ctx.process_revocations)
    logger.info(
        "connection %s %s in %s", conn.id, "created" if created else "renewed", datacenter.location
    )
    if connect_session.return_url and is_allowed_return_url(ctx, connect_session.return_url):
        return redirect(_with_result(connect_session.return_url, str(conn.id)))
    return page(
        ctx,
        request,
        "connected.html",
        connection=conn,
        organization_name=organization_name,
        datacenter=datacenter,
    )


def _check_region(ctx: WebContext, start_location: str | None, datacenter: DataCenter) -> None:
    """A flow that starts at China's accounts server ends there; a flow started anywhere else
    never ends there (SECURITY 45).

    Zoho's US server legitimately hands users of the other DCs (eu, in, au ...) to their own,
    so a flow started there may end at any DC but China's. Checked before the code, the
    verifier or the client secret go anywhere.
    """
    try:
        started_at = ctx.datacenters.start_for(start_location).location
    except DataCenterError:
        started_at = start_location or ""
    if (started_at == CHINA) != (datacenter.location == CHINA):
        raise _Refused(
            "This sign-in ended in another region",
            "The sign-in was started at one Zoho region and answered from another, so the "
            "authorization was not used. Nothing was connected.",
        )


def _give_back(
    ctx: WebContext, datacenter: DataCenter, tokens: TokenSet, *, queue: bool = True
) -> None:
    """Revoke a refresh token minted for a connection that will not be stored.

    Otherwise it takes one of the user's 20 for nothing (SECURITY 34). When Zoho cannot be
    reached, it is queued for the revocation worker (``queue``; never when the database is the
    problem).
    """
    if not tokens.refresh_token:
        return
    try:
        ctx.oauth.revoke(datacenter, tokens.refresh_token)
        return
    except InvalidGrantError:
        return  # Zoho does not know it any more: nothing to give back
    except Exception as exc:
        logger.warning("could not revoke a refused connection's token: %s", type(exc).__name__)
    if queue:
        try:
            ctx.vault.queue_revocation(datacenter.location, tokens.refresh_token)
        except Exception as exc:
            logger.warning("could not queue the revocation: %s", type(exc).__name__)


def _first_organization(organizations: list[tuple[str, str]]) -> str:
    """The organization to ask ``/users/me`` in: the oldest (smallest numeric id), so the same
    login asks the same organization every time, whatever order Zoho lists them in."""
    return min((org_id for org_id, _ in organizations), key=lambda i: (len(i), i))


def _identify(
    ctx: WebContext, datacenter: DataCenter, tokens: TokenSet
) -> tuple[list[tuple[str, str]], str, str]:
    """The new token's organizations and Zoho user id, and the organization that was asked.

    Zoho Invoice's ``GET /users/me`` says who the token belongs to; it answers for one of the
    user's organizations. Without an answer the callback refuses: a connection is never merged
    with another on a guess (SECURITY 44). The minted refresh token is then given back.
    """
    try:
        organizations = ctx.organizations(tokens.access_token, datacenter.api_domain)
        if not organizations:
            _give_back(ctx, datacenter, tokens)
            raise _Refused(
                "No Zoho Invoice organization",
                "This Zoho account has no Zoho Invoice organization yet, so there is nothing to "
                "connect. Nothing was connected.",
                hint="Create an organization in Zoho Invoice, then go back to the app and "
                "connect again.",
            )
        asked_in = _first_organization(organizations)
        zoho_user_id = ctx.current_user(tokens.access_token, datacenter.api_domain, asked_in)
        if not zoho_user_id or len(zoho_user_id) > 64:
            raise ValueError("no usable user id in Zoho's answer")
    except _Refused:
        raise
    except Exception as exc:
        logger.warning("could not tell which Zoho user signed in: %s", type(exc).__name__)
        _give_back(ctx, datacenter, tokens)
        raise _Refused(
            "Zoho did not say who signed in",
            "Zoho did not answer which Zoho user this sign-in belongs to, so it was not stored. "
            "Nothing was connected.",
            hint="Wait a moment, then go back to the app and connect again. If it keeps "
            "failing, the application's administrator should check that ZOHO_SCOPES includes "
            "ZohoInvoice.settings.READ (or .ALL).",
        ) from None
    return organizations, zoho_user_id, asked_in


def _legacy_claim(
    ctx: WebContext, owner: str, datacenter: DataCenter, zoho_user_id: str, asked_in: str
) -> str | None:
    """A connection from before Zoho users were recorded that this login may renew, if any.

    Only when its own stored token proves it belongs to the same Zoho user (asked in the same
    organization). Otherwise the login makes a new connection and the old one is left as it
    is: a connection whose user cannot be told is never handed to another user (SECURITY 44).
    """
    try:
        candidates = [
            c for c in ctx.vault.list_connections(owner=owner) if c.location == datacenter.location
        ]
    except Exception:
        return None
    if any(c.zoho_user_id == zoho_user_id for c in candidates):
        return None  # this user's own connection is renewed; nothing to claim
    for legacy in (c for c in candidates if c.zoho_user_id is None):
        try:
            token = ctx.manager.get_access_token(legacy.id)
            if ctx.current_user(token.token, token.api_domain, asked_in) == zoho_user_id:
                return legacy.id
        except Exception as exc:
            logger.info(
                "a connection without a recorded Zoho user could not be identified (%s); "
                "the login makes a new connection",
                type(exc).__name__,
            )
    return None


def _bind_organization(
    ctx: WebContext, conn: Connection, organizations: list[tuple[str, str]]
) -> str | None:
    """Bind the only organization; with several, the person chooses later. Never fails."""
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
        # The same Zoho user no longer belongs to the bound organization: unbind it, so the
        # person chooses again instead of calls failing.
        try:
            ctx.vault.set_organization(conn.id, None)
        except Exception as exc:
            logger.warning("could not unbind a stale organization: %s", type(exc).__name__)
    return None


def _emit(ctx: WebContext, conn: Connection, created: bool) -> None:
    """Announce the saved connection, inside the unit of work that saves it."""
    ctx.emit(
        ConnectionEvent(
            type="connection.created" if created else "connection.reconnected",
            connection_id=conn.id,
            owner=conn.owner,
            at=datetime.now(UTC),
            reason=None,
        )
    )
