"""Reading Zoho's token-endpoint answers (SECURITY 17, 18).

Zoho answers most errors with HTTP 200 and ``{"error": "..."}``, so the body is checked for
``error`` whatever the status. Messages name Zoho's error code and say what to do; they never
carry a token value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .._exceptions import (
    AuthorizationDenied,
    InvalidClientError,
    InvalidClientSecretError,
    InvalidGrantError,
    InvalidRedirectURIError,
    OAuthError,
    OAuthTransientError,
    TokenResponseError,
    TokenThrottledError,
)
from .._redact import redact
from .._zoho_codes import (
    OAUTH_ACCESS_DENIED,
    OAUTH_INVALID_CLIENT,
    OAUTH_INVALID_CLIENT_SECRET,
    OAUTH_INVALID_CODE,
    OAUTH_INVALID_REDIRECT_URI,
    OAUTH_THROTTLED,
    OAUTH_TRANSIENT_ERRORS,
)
from ._types import Grant, TokenSet

__all__ = ["oauth_error_from_body", "parse_token_response"]

#: When Zoho gives no lifetime, its documented one.
DEFAULT_EXPIRES_IN = 3600.0

_THROTTLE_WORDING = ("too many requests", "throttle", "try again after some time")


def _short(value: object, limit: int = 200) -> str:
    """An outside value made safe for a message: redacted, single-line, bounded."""
    text = redact(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _is_throttle(error: str, description: str) -> bool:
    if error == OAUTH_THROTTLED:  # the throttle's error, unlike access_denied (a refusal)
        return True
    wording = f"{error} {description}".lower()
    return any(phrase in wording for phrase in _THROTTLE_WORDING)


def oauth_error_from_body(status_code: int, body: dict[str, object]) -> OAuthError:
    """The error for an answer whose body carries ``error``."""
    raw_error = body.get("error")
    error = raw_error if isinstance(raw_error, str) else str(raw_error)
    raw_description = body.get("error_description")
    description = raw_description if isinstance(raw_description, str) else ""
    said = _short(error, 60) + (f" ({_short(description)})" if description else "")
    if _is_throttle(error, description):
        return TokenThrottledError(
            f"Zoho Accounts throttles token requests for this connection: {said}. Reuse the "
            "current access token and try again after the window ends.",
            error=error,
        )
    if error == OAUTH_INVALID_CODE:
        return InvalidGrantError(
            "Zoho Accounts answered invalid_code: the authorization code expired or was already "
            "used, or the refresh token was revoked. The user must connect again.",
            error=error,
        )
    if error == OAUTH_INVALID_CLIENT_SECRET:
        # The service's configuration is wrong, not the connection: nobody must reconnect.
        return InvalidClientSecretError(
            "Zoho Accounts answered invalid_client_secret: ZOHO_CLIENT_SECRET is not the secret "
            "of this client at Zoho (rotated or mistyped; it may differ per data centre). Fix "
            "the configuration; connections stay as they are.",
            error=error,
        )
    if error == OAUTH_INVALID_CLIENT:
        return InvalidClientError(
            f"Zoho Accounts answered {error}: check ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET, and "
            "that the request went to the connection's own data centre.",
            error=error,
        )
    if error == OAUTH_INVALID_REDIRECT_URI:
        return InvalidRedirectURIError(
            "Zoho Accounts answered invalid_redirect_uri: ZOHO_REDIRECT_URI must be exactly the "
            "redirect URI registered for this client at Zoho.",
            error=error,
        )
    if error == OAUTH_ACCESS_DENIED:
        return AuthorizationDenied(
            f"Zoho Accounts refused: {said}. The user declined or lacks access.", error=error
        )
    if error in OAUTH_TRANSIENT_ERRORS or status_code >= 500:
        return OAuthTransientError(
            f"Zoho Accounts had a temporary failure: {said}. Try again later.", error=error
        )
    return OAuthError(f"Zoho Accounts answered an error: {said}.", error=error)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _expires_at(body: dict[str, object], now: float) -> datetime:
    # The older format carries expires_in_sec, and then expires_in is in milliseconds: prefer it.
    seconds = _number(body.get("expires_in_sec"))
    if seconds is None:
        seconds = _number(body.get("expires_in"))
    if seconds is None:
        seconds = DEFAULT_EXPIRES_IN
    if not 0 < seconds < 10 * 365 * 86400:
        raise TokenResponseError("Zoho's token answer has an impossible lifetime; nothing stored.")
    return datetime.fromtimestamp(now, UTC) + timedelta(seconds=seconds)


def parse_token_response(status_code: int, body: bytes, *, now: float, grant: Grant) -> TokenSet:
    """The ``TokenSet`` in a token-endpoint answer, or the ``OAuthError`` it amounts to.

    ``now`` is the epoch time the request was sent (the lifetime counts from it).
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise OAuthTransientError(
            f"Zoho Accounts answered HTTP {status_code} with a body that is not JSON; "
            "try again later."
        ) from None
    if not isinstance(data, dict):
        raise OAuthTransientError(
            f"Zoho Accounts answered HTTP {status_code} with JSON that is not an object; "
            "try again later."
        )
    if "error" in data:
        raise oauth_error_from_body(status_code, data)
    if status_code >= 500:
        raise OAuthTransientError(f"Zoho Accounts answered HTTP {status_code}; try again later.")
    if status_code == 429:
        raise TokenThrottledError("Zoho Accounts answered HTTP 429: too many token requests.")
    if status_code != 200:
        raise OAuthError(f"Zoho Accounts answered HTTP {status_code} without an error code.")
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseError(
            "Zoho's token answer has no access_token; nothing was stored. Check that the client "
            "is a server-based client and that the authorize URL had response_type=code."
        )
    refresh_token = data.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = None
    if grant == "authorization_code" and refresh_token is None:
        raise TokenResponseError(
            "Zoho's token answer has no refresh_token; nothing was stored. The authorize URL "
            "must ask for access_type=offline and prompt=consent (Zoho gives a user's refresh "
            "token only on consent); ask the user to connect again."
        )
    api_domain = data.get("api_domain")
    token_type = data.get("token_type")
    scope = data.get("scope")
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=_expires_at(data, now),
        api_domain=api_domain if isinstance(api_domain, str) and api_domain else None,
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        scope=scope if isinstance(scope, str) and scope else None,
    )
