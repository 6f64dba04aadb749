"""From an HTTP status and Zoho's envelope to one of our error classes."""

from __future__ import annotations

import json
from typing import Any

from .._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DailyQuotaExceeded,
    InternalServerError,
    IPBlockedError,
    MissingScopeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from .._http import httpx
from .._zoho_codes import (
    AUTH_CODES,
    CODE_DAILY_QUOTA,
    CODE_UNAUTHORIZED,
    NOT_FOUND_CODES,
    RATE_LIMIT_CODES,
)
from ._ip_throttle import is_ip_block

__all__ = ["make_api_error", "parse_envelope", "without_credentials"]

_MAX_MESSAGE = 500


def parse_envelope(content: bytes) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """The decoded body (when it is a JSON object), Zoho's ``code`` and ``message``."""
    try:
        body = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    code = body.get("code")
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    message = body.get("message")
    return (
        body,
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else None,
    )


def without_credentials(response: httpx.Response) -> httpx.Response:
    """Zoho's answer as the error keeps it: the same status, headers and body, and a copy of
    its request without the ``Authorization`` header (an exception never holds a token,
    SECURITY 38)."""
    sent = response.request
    headers = sent.headers.copy()
    headers.pop("Authorization", None)
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=response.content,
        request=httpx.Request(sent.method, sent.url, headers=headers),
    )


def make_api_error(
    status_code: int,
    content: bytes,
    *,
    after_refresh: bool = False,
    response: httpx.Response | None = None,
) -> APIStatusError:
    """The error for an answer that is not a success.

    ``after_refresh`` tells that the request already went out again with a fresh token: a
    second code 57 then means the token lacks the scope (docs/zoho/README.md, "Errors").
    ``response`` (the answer ``status_code`` and ``content`` came from) is kept on the error,
    without the token.
    """
    body, code, message = parse_envelope(content)
    # Zoho's per-IP block is known by its wording only (no published status, code or format).
    ip_blocked = is_ip_block(
        (message or "") if body is not None else content.decode("utf-8", "replace")
    )
    if ip_blocked and message is None:
        message = "this IP address is blocked for sending too many requests a minute"
    text = (message or f"HTTP {status_code}")[:_MAX_MESSAGE]
    # CR/LF from outside must not forge log lines (SECURITY 38).
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    label = f"Zoho Invoice API: {text} (HTTP {status_code}"
    label += f", code {code})" if code is not None else ")"
    cls: type[APIStatusError]
    if ip_blocked:
        cls = IPBlockedError
    elif code == CODE_DAILY_QUOTA:
        cls = DailyQuotaExceeded
    elif code in RATE_LIMIT_CODES or status_code == 429:
        cls = RateLimitError
    elif status_code == 401 or code in AUTH_CODES:
        missing_scope = after_refresh and code == CODE_UNAUTHORIZED
        cls = MissingScopeError if missing_scope else AuthenticationError
    elif status_code == 404 or code in NOT_FOUND_CODES:
        # Before 400: Zoho's "does not exist" is the code (1002, or 2006 for an item), whatever
        # the HTTP status it arrives with.
        cls = NotFoundError
    elif status_code == 400:
        cls = BadRequestError
    elif status_code == 403:
        cls = PermissionDeniedError
    elif status_code == 409:
        cls = ConflictError
    elif status_code >= 500:
        cls = InternalServerError
    else:
        cls = APIStatusError
    error = cls(
        label,
        status_code=status_code,
        code=code,
        body=body,
        response=without_credentials(response) if response is not None else None,
    )
    error.message = text
    return error
