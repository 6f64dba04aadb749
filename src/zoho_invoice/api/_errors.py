"""From an HTTP status and Zoho's envelope to one of our error classes."""

from __future__ import annotations

import json
from typing import Any

from .._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    MissingScopeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ._constants import RATE_LIMIT_CODES

__all__ = ["make_api_error", "parse_envelope"]

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


def make_api_error(
    status_code: int,
    content: bytes,
    *,
    after_refresh: bool = False,
) -> APIError:
    """The error for an answer that is not a success.

    ``after_refresh`` tells that the request already went out again with a fresh token: a
    second code 57 then means the token lacks the scope (ZOHO.md).
    """
    body, code, message = parse_envelope(content)
    text = (message or f"HTTP {status_code}")[:_MAX_MESSAGE]
    # CR/LF from outside must not forge log lines (SECURITY 38).
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    label = f"Zoho Invoice API: {text} (HTTP {status_code}"
    label += f", code {code})" if code is not None else ")"
    cls: type[APIError]
    if code in RATE_LIMIT_CODES or status_code == 429:
        cls = RateLimitError
    elif status_code == 401 or code in (14, 57):
        cls = MissingScopeError if (after_refresh and code == 57) else AuthenticationError
    elif status_code == 400:
        cls = BadRequestError
    elif status_code == 403:
        cls = PermissionDeniedError
    elif status_code == 404 or code == 1002:
        cls = NotFoundError
    elif status_code == 409:
        cls = ConflictError
    elif status_code >= 500:
        cls = InternalServerError
    else:
        cls = APIError
    error = cls(label, status_code=status_code, code=code, body=body)
    error.message = text
    return error
