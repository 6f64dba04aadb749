"""Zoho's codes and error strings the client acts on, named, in one place.

Below both :mod:`zoho_invoice.api` (the Invoice API's numeric ``code``) and
:mod:`zoho_invoice.oauth` (Zoho Accounts' ``error`` strings), so neither imports the other for
them. Only what the client branches on is here; the rest of what Zoho answers is listed with its
sources in docs/zoho/README.md ("Errors"), docs/zoho/limits.md and docs/zoho/sandbox-rules.md.
The sandbox (distribution ``zoho-invoice-sandbox``) keeps its own table, as Zoho's stand-in.
"""

from __future__ import annotations

from typing import Final

# -- The Invoice API: ``{"code": N, "message": ...}`` -------------------------------------------

#: Success: every answer carries a code, and 0 is the only one that is not an error.
CODE_SUCCESS: Final = 0
#: 401: no ``Authorization`` header, or a malformed one.
CODE_MISSING_AUTHORIZATION: Final = 14
#: 401 "You are not authorized to perform this operation": a bad or expired token, or a token
#: without the scope (refresh once and retry; a second 57 means the scope is missing).
CODE_UNAUTHORIZED: Final = 57
#: 429: the organization's minute is spent (100 requests a minute, every integration counted).
CODE_MINUTE_LIMIT: Final = 44
#: The organization's daily quota is spent (by plan, Free 1,000 ... 10,000) until the reset.
CODE_DAILY_QUOTA: Final = 45
#: Too many requests in flight for the organization (5 on the free plan, 10 paid).
CODE_CONCURRENCY_LIMIT: Final = 1070
#: "... does not exist." for most resources, whatever the HTTP status it comes with.
CODE_NOT_FOUND: Final = 1002
#: An item that does not exist (items use their own code for it).
CODE_ITEM_NOT_FOUND: Final = 2006

#: Codes that mean "slow down".
RATE_LIMIT_CODES: Final = frozenset({CODE_MINUTE_LIMIT, CODE_DAILY_QUOTA, CODE_CONCURRENCY_LIMIT})
#: Zoho's "does not exist".
NOT_FOUND_CODES: Final = frozenset({CODE_NOT_FOUND, CODE_ITEM_NOT_FOUND})
#: The token or its header was refused.
AUTH_CODES: Final = frozenset({CODE_MISSING_AUTHORIZATION, CODE_UNAUTHORIZED})

# -- Zoho Accounts (OAuth): ``{"error": "...", "error_description": ...}``, often with HTTP 200 ----

#: The authorization code expired or was used, or the refresh token was revoked: reconnect.
OAUTH_INVALID_CODE: Final = "invalid_code"
#: Unknown client, or the request went to another data centre than the client's.
OAUTH_INVALID_CLIENT: Final = "invalid_client"
#: The configured client secret is not the client's (rotated or mistyped): fix the settings.
OAUTH_INVALID_CLIENT_SECRET: Final = "invalid_client_secret"
#: The redirect URI is not the one registered for the client.
OAUTH_INVALID_REDIRECT_URI: Final = "invalid_redirect_uri"
#: The person declined consent, or lacks access.
OAUTH_ACCESS_DENIED: Final = "access_denied"
#: Zoho Accounts' throttle (too many token requests), unlike ``access_denied``, a refusal.
OAUTH_THROTTLED: Final = "Access Denied"
#: Zoho Accounts' passing failures: try again later.
OAUTH_TRANSIENT_ERRORS: Final = frozenset(
    {"server_error", "temporarily_unavailable", "internal_error"}
)
