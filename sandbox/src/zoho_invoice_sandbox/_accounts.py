"""Zoho Accounts, one instance per data centre: ``/accounts/{location}/oauth/v2/...``.

Behaviour follows docs/zoho/README.md (the fact sheet): authorization starts at ``us`` (which
sends users of other DCs to their own server, and does not know ``cn`` users); token errors are
HTTP 200 with ``{"error": ...}``; parameters are accepted in the form body or the query string.

Zoho's limits (docs/zoho/accounts.md): a client that used up its authorization codes for the
window is sent back with ``error=access_denied``, as if the user had declined; a user who got too
many refresh tokens from the client is answered "Access Denied" at the code exchange. Revoke is
``POST /oauth/v2/token/revoke`` (the token in the body, or the query as Zoho's pages show it) and
``POST /oauth/v2/revoke/token`` (the client authenticated with HTTP Basic, plus ``token_type``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ._directory import SimUser
from ._pages import render
from ._respond import DATACENTERS, fault_response, hold_answer, journal_request
from ._store import Minted, OAuthFailure, Throttled
from ._world import SandboxWorld

__all__ = ["THROTTLE_BODY", "accounts_routes"]

THROTTLE_BODY = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
    "status": "failure",
}
#: The newer wording Zoho has been seen to use for the same throttle.
THROTTLE_BODY_NEW = {
    "error": "Access Denied",
    "error_description": "Token creation throttle limit reached. "
    "Please reuse the valid tokens you currently have.",
    "status": "failure",
}

_SCOPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_MAX_PARAM = 2048
_AUTH_PARAMS = (
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "access_type",
    "prompt",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
)
_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


class _AuthError(Exception):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(error)
        self.error = error
        self.message = message


class _AuthRequest:
    """A validated ``/oauth/v2/auth`` query."""

    def __init__(self, world: SandboxWorld, location: str, request: Request) -> None:
        pairs = request.query_params.multi_items()
        seen: dict[str, str] = {}
        for key, value in pairs:
            if key in seen:
                raise _AuthError("invalid_request", f"The parameter {key} is given twice.")
            if len(value) > _MAX_PARAM:
                raise _AuthError("invalid_request", f"The parameter {key} is too long.")
            seen[key] = value
        self.params = seen
        self.client_id = seen.get("client_id", "")
        client = world.accounts.client(self.client_id)
        if client is None:
            raise _AuthError("invalid_client", "This application is not registered.")
        self.redirect_uri = seen.get("redirect_uri", "")
        if not world.accounts.redirect_uri_allowed(client, self.redirect_uri):
            raise _AuthError(
                "invalid_redirect_uri", "The redirect URI is not registered for this application."
            )
        if seen.get("response_type") != "code":
            raise _AuthError("unsupported_response_type", "response_type must be code.")
        self.scopes = [s for s in seen.get("scope", "").split(",") if s]
        if not self.scopes or not all(_SCOPE.match(s) for s in self.scopes):
            raise _AuthError(
                "invalid_scope", "Give the scopes comma-separated, e.g. ZohoInvoice.invoices.READ."
            )
        access_type = seen.get("access_type", "online")
        if access_type not in ("online", "offline"):
            raise _AuthError("invalid_request", "access_type must be online or offline.")
        self.offline = access_type == "offline"
        self.force_consent = seen.get("prompt") == "consent"
        self.state = seen.get("state")
        self.challenge = seen.get("code_challenge")
        self.challenge_method: str | None = seen.get("code_challenge_method")
        if self.challenge is None:
            if self.challenge_method is not None:
                raise _AuthError("invalid_request", "code_challenge_method without code_challenge.")
        else:
            self.challenge_method = self.challenge_method or "plain"
            if self.challenge_method not in ("S256", "plain"):
                raise _AuthError("invalid_request", "code_challenge_method must be S256 or plain.")
            if not _CHALLENGE.match(self.challenge):
                raise _AuthError("invalid_request", "code_challenge is malformed.")
        self.login_hint = seen.get("login_hint")

    def redirect(self, params: Mapping[str, str]) -> RedirectResponse:
        values = dict(params)
        if self.state is not None:
            values["state"] = self.state
        separator = "&" if "?" in self.redirect_uri else "?"
        return RedirectResponse(
            self.redirect_uri + separator + urlencode(values), status_code=302, headers=_NO_STORE
        )


def _error_page(location: str, error: str, message: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        render("error.html", location=location, error=error, message=message),
        status_code=status,
        headers=_NO_STORE,
    )


def _offered_users(world: SandboxWorld, location: str) -> list[SimUser]:
    # Every non-China user signs in at us; the other servers know only their own users.
    if location == "us":
        return [user for user in world.directory.users if user.location != "cn"]
    return world.directory.users_in(location)


def _token_body(world: SandboxWorld, minted: Minted) -> dict[str, object]:
    body: dict[str, object] = {"access_token": minted.access_token}
    if minted.refresh_token is not None:
        body["refresh_token"] = minted.refresh_token
    lifetime = int(minted.expires_in)
    if world.settings.token_format == "legacy":
        body["expires_in_sec"] = lifetime
    body["api_domain"] = world.api_domain(minted.location)
    body["token_type"] = "Bearer"
    body["expires_in"] = lifetime * 1000 if world.settings.token_format == "legacy" else lifetime
    return body


def _params(query: list[tuple[str, str]], form: list[tuple[str, str]]) -> dict[str, str]:
    # Zoho takes token parameters from the query string or the body; the body wins.
    merged = dict(query)
    merged.update(dict(form))
    return merged


def _token_answer(world: SandboxWorld, location: str, params: dict[str, str]) -> Response:
    """Zoho's answer to a token request: it mints (or refuses) before the answer is sent."""
    grant_type = params.get("grant_type", "")
    try:
        if grant_type == "authorization_code":
            minted = world.accounts.exchange_code(
                location=location,
                client_id=params.get("client_id", ""),
                client_secret=params.get("client_secret", ""),
                code=params.get("code", ""),
                redirect_uri=params.get("redirect_uri", ""),
                code_verifier=params.get("code_verifier", ""),
            )
        elif grant_type == "refresh_token":
            minted = world.accounts.refresh(
                location=location,
                client_id=params.get("client_id", ""),
                client_secret=params.get("client_secret", ""),
                refresh_token=params.get("refresh_token", ""),
            )
        else:
            raise OAuthFailure("unsupported_grant_type")
    except OAuthFailure as exc:
        return JSONResponse({"error": exc.error})
    except Throttled:
        new_wording = world.settings.throttle_wording == "new"
        return JSONResponse(THROTTLE_BODY_NEW if new_wording else THROTTLE_BODY)
    return JSONResponse(_token_body(world, minted), headers={"Cache-Control": "no-store"})


def accounts_routes(world: SandboxWorld) -> list[Route]:
    def _route_location(request: Request) -> str | None:
        location = str(request.path_params["location"])
        return location if location in DATACENTERS else None

    async def authorize(request: Request) -> Response:
        location = _route_location(request)
        if location is None:
            return _error_page("?", "not_found", "No such data centre.", 404)
        await journal_request(world, "accounts.auth", request)
        fault = await fault_response(world, "accounts.auth")
        if fault is not None:
            return fault
        try:
            auth = _AuthRequest(world, location, request)
        except _AuthError as exc:
            return _error_page(location, exc.error, exc.message)
        users = _offered_users(world, location)
        if world.accounts.codes_used_up(auth.client_id):
            # Zoho's code throttle: the browser goes back as if the user had declined.
            return auth.redirect({"error": "access_denied"})
        if request.method == "GET":
            hinted = world.directory.user_by_email(auth.login_hint) if auth.login_hint else None
            fallback = users[0].user_id if users else ""
            selected = hinted.user_id if hinted and hinted in users else fallback
            action = request.url.path + ("?" + request.url.query if request.url.query else "")
            page = render(
                "consent.html",
                location=location,
                client_id=auth.client_id,
                scopes=auth.scopes,
                offline=auth.offline,
                users=users,
                selected=selected,
                action=action,
                redirect_uri=auth.redirect_uri,
            )
            return HTMLResponse(page, headers=_NO_STORE)

        form = await request.form()
        decision = form.get("decision")
        if decision == "deny":
            return auth.redirect({"error": "access_denied"})
        if decision != "approve":
            return _error_page(location, "invalid_request", "Choose Approve or Deny.")
        user = world.directory.user(str(form.get("user_id", "")))
        if user is None or user not in users:
            return _error_page(
                location,
                "unknown_user",
                "This account is not known at this server"
                + (" (accounts in China sign in at the cn server)." if location == "us" else "."),
            )
        if user.location != location:
            # As Zoho does: us sends the browser to the user's own DC, which issues the code.
            query = {k: v for k, v in auth.params.items() if k != "login_hint"}
            query["login_hint"] = user.email
            target = world.accounts_url(user.location) + "/oauth/v2/auth?" + urlencode(query)
            return RedirectResponse(target, status_code=302, headers=_NO_STORE)
        try:
            code = world.accounts.create_code(
                client_id=auth.client_id,
                redirect_uri=auth.redirect_uri,
                scopes=auth.scopes,
                user_id=user.user_id,
                location=location,
                challenge=auth.challenge,
                challenge_method=auth.challenge_method,
                offline=auth.offline,
                force_consent=auth.force_consent,
            )
        except Throttled:
            return auth.redirect({"error": "access_denied"})
        return auth.redirect(
            {"code": code, "location": location, "accounts-server": world.accounts_url(location)}
        )

    async def token(request: Request) -> Response:
        location = _route_location(request)
        if location is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        query, form = await journal_request(world, "accounts.token", request)
        hold: list[float] = []
        fault = await fault_response(world, "accounts.token", hold=hold)
        if fault is not None:
            return fault
        answer = _token_answer(world, location, _params(query, form))
        for seconds in hold:  # Fault(delay_after=...): minted, and the answer held back
            await hold_answer(request, seconds)
        return answer

    async def revoke(request: Request) -> Response:
        location = _route_location(request)
        if location is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        query, form = await journal_request(world, "accounts.revoke", request)
        fault = await fault_response(world, "accounts.revoke")
        if fault is not None:
            return fault
        value = _params(query, form).get("token", "")
        if value and world.accounts.revoke(location=location, token=value):
            return _revoked()
        return _revoke_refused("invalid_token")

    async def revoke_with_client(request: Request) -> Response:
        # zoho.com/developer/oauth/revoke-oauth-token.html: the client in HTTP Basic, the token
        # and its type as parameters (the page shows the query; the body is taken too).
        location = _route_location(request)
        if location is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        query, form = await journal_request(world, "accounts.revoke", request)
        fault = await fault_response(world, "accounts.revoke")
        if fault is not None:
            return fault
        credentials = _basic_credentials(request.headers.get("authorization", ""))
        if credentials is None or not world.accounts.client_authenticates(*credentials):
            return _revoke_refused("invalid_client")
        params = _params(query, form)
        token_type = params.get("token_type", "")
        if token_type not in ("refresh_token", "access_token"):
            return _revoke_refused("invalid_request")
        value = params.get("token", "")
        if value and world.accounts.revoke(
            location=location, token=value, client_id=credentials[0], token_type=token_type
        ):
            return _revoked()
        return _revoke_refused("invalid_token")

    return [
        Route("/accounts/{location}/oauth/v2/auth", authorize, methods=["GET", "POST"]),
        Route("/accounts/{location}/oauth/v2/token", token, methods=["POST"]),
        Route("/accounts/{location}/oauth/v2/token/revoke", revoke, methods=["POST"]),
        Route("/accounts/{location}/oauth/v2/revoke/token", revoke_with_client, methods=["POST"]),
    ]


def _revoked() -> JSONResponse:
    return JSONResponse({"status": "success"})


def _revoke_refused(error: str) -> JSONResponse:
    # Zoho documents HTTP 400 for a token it does not know; the body is the sandbox's guess.
    return JSONResponse({"status": "failure", "error": error}, status_code=400)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from ``Authorization: Basic ...``; ``None`` otherwise."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon and client_id else None
