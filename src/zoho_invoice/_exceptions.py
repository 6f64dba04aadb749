"""Every error this package raises.

The tree::

    ZohoError
    ├── ConfigurationError            settings, keys or the data-centre table are wrong
    ├── DataCenterError               location, accounts-server or api_domain not in the table
    ├── InvalidRequestError           a call the client will not send (also a ValueError)
    ├── OAuthError                    Zoho Accounts said no, or the flow was tampered with
    │   ├── ConnectFlowError          a callback that must be refused (state, cookie, parameters)
    │   ├── AuthorizationDenied       the person declined consent (``error=access_denied`` …)
    │   ├── InvalidGrantError         ``invalid_code``: code used/expired, or refresh token revoked
    │   ├── InvalidClientError        ``invalid_client`` (unknown client or wrong DC)
    │   │   └── InvalidClientSecretError  ``invalid_client_secret`` (also a ConfigurationError)
    │   ├── InvalidRedirectURIError   ``invalid_redirect_uri``
    │   ├── TokenThrottledError       Zoho's "Access Denied … too many requests" throttle
    │   ├── TokenResponseError        a token answer we cannot use (no access/refresh token …)
    │   └── OAuthTransientError       timeouts, 5xx, ``server_error``: safe to try again later
    ├── VaultError
    │   ├── KeyRingError              missing, malformed or wrong encryption keys
    │   ├── DecryptionError           a sealed value failed to open (wrong key or moved row)
    │   ├── ConnectionNotFoundError
    │   ├── StaleWriteError           a write lost the version race (fencing)
    │   ├── InvalidVaultInputError    a value the database cannot take (also a ValueError)
    │   └── VaultUnavailableError     the database did not answer (the web layer answers 503)
    ├── TokenError
    │   ├── ReauthorizationRequired   the connection is ``needs_reauth`` / ``revoked``
    │   └── TokenUnavailableError     no valid token now (throttled, lock timeout, Zoho down)
    │       └── ClientSecretRejectedError  Zoho rejects our secret (also a ConfigurationError)
    └── APIError                      an Invoice API call failed
        ├── APIConnectionError        no answer at all: no status, no code
        │   └── APITimeoutError       the answer did not come in time
        └── APIStatusError            Zoho answered an error: status, code, response, retry_after
            ├── BadRequestError           400
            ├── AuthenticationError       401 (``MissingScopeError`` below it)
            ├── PermissionDeniedError     403
            ├── NotFoundError             404 (or Zoho's "does not exist" codes)
            ├── ConflictError             409
            ├── RateLimitError            429 (code 44 per minute, 45 daily, 1070 concurrency)
            │   ├── DailyQuotaExceeded    code 45: nothing more for the organization until the reset
            │   └── IPBlockedError        Zoho blocked this IP address (too many requests a minute)
            └── InternalServerError       5xx

Catch ``APIStatusError`` for what Zoho said, ``APIConnectionError`` for a call that got no
answer (a create may or may not have happened), ``APIError`` for both.

Messages never contain a token, code, state, verifier or secret; neither does the request an
``APIStatusError.response`` keeps (its ``Authorization`` header is left out).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._http import httpx


class ZohoError(Exception):
    """Root of every error raised by zoho_invoice."""


class ConfigurationError(ZohoError):
    """The settings, keys or data-centre table are unusable."""


class DataCenterError(ZohoError):
    """A location, accounts server or API domain did not match the data-centre table."""


class InvalidRequestError(ZohoError, ValueError):
    """A call ``client.request`` refuses before anything is sent: a path that could leave the
    Invoice API root (a host, ``..``, a query) or a method Zoho does not use."""


class OAuthError(ZohoError):
    """Zoho Accounts refused, or the OAuth flow could not go on.

    ``error`` is Zoho's error code (``invalid_code`` …) when there is one.
    """

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class ConnectFlowError(OAuthError):
    """A callback or connect request that must be refused (bad state, missing cookie, …)."""


class AuthorizationDenied(OAuthError):
    """The person declined, or Zoho sent ``error=…`` to the callback."""


class InvalidGrantError(OAuthError):
    """``invalid_code``: the code expired or was used, or the refresh token was revoked."""


class InvalidClientError(OAuthError):
    """``invalid_client`` / ``invalid_client_secret``: unknown client, wrong secret or wrong DC."""


class InvalidClientSecretError(InvalidClientError, ConfigurationError):
    """``invalid_client_secret``: Zoho rejects the configured secret (rotated or mistyped).

    A fault of the service's configuration, not of any one connection: no connection is marked
    ``needs_reauth`` for it.
    """


class InvalidRedirectURIError(OAuthError):
    """``invalid_redirect_uri``: the redirect URI is not the one registered at Zoho."""


class TokenThrottledError(OAuthError):
    """Zoho's token throttle: too many access tokens minted for one refresh token."""


class TokenResponseError(OAuthError):
    """A token response we cannot use."""


class OAuthTransientError(OAuthError):
    """A timeout, a 5xx or ``server_error``: the request may succeed later."""


class VaultError(ZohoError):
    """The vault could not store or read a connection."""


class KeyRingError(VaultError, ConfigurationError):
    """Encryption keys are missing, malformed, or not the ones the database was sealed with."""


class DecryptionError(VaultError):
    """A sealed value failed to open: wrong key, or a ciphertext moved to another row or field."""


class ConnectionNotFoundError(VaultError):
    """No connection with that id."""


class StaleWriteError(VaultError):
    """The row changed since it was read; the write was refused (version fence)."""


class InvalidVaultInputError(VaultError, ValueError):
    """A value the database cannot store (a NUL byte, a control character): the caller's fault."""


class VaultUnavailableError(VaultError):
    """The database did not answer (down, unreachable or locked); try again shortly."""


class TokenError(ZohoError):
    """No access token can be handed out."""


class ReauthorizationRequired(TokenError):
    """The connection must be connected again by its user (``needs_reauth`` or ``revoked``)."""

    def __init__(self, message: str, *, connection_id: str, status: str) -> None:
        super().__init__(message)
        self.connection_id = connection_id
        self.status = status


class TokenUnavailableError(TokenError):
    """No valid token right now (Zoho throttles, is down, or a lock timed out); try later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientSecretRejectedError(TokenUnavailableError, ConfigurationError):
    """A refresh was refused with ``invalid_client_secret``: fix ``ZOHO_CLIENT_SECRET``.

    The connection stays ``active`` (its refresh token is fine); the web service answers 503.
    """


class APIError(ZohoError):
    """An Invoice API call failed: it got no answer (``APIConnectionError``) or an error answer
    (``APIStatusError``).

    ``status_code`` is the HTTP status, ``code`` Zoho's numeric code (``0`` means success, so an
    error always has another), ``message`` Zoho's message; the first two are ``None`` when
    there was no answer.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body


class APIConnectionError(APIError):
    """The request got no answer (refused, reset, DNS, TLS): no status, no code. A create may
    have reached Zoho all the same, so the client does not repeat one."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(APIError):
    """Zoho answered, and the answer is an error: an HTTP error status, or ``code != 0``.

    Besides ``status_code``, ``code``, ``message`` and ``body``: ``response`` is Zoho's answer
    (``httpx.Response``; its request without the ``Authorization`` header), ``None`` when the
    client refused without sending (a spent daily quota); ``retry_after`` is how many seconds to
    wait before the same call is worth trying again, when known: Zoho's ``Retry-After``, the
    minute of a code 44, the daily reset of a 45.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        body: object = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, body=body)
        self.response = response
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401: token missing, bad or expired."""


class MissingScopeError(AuthenticationError):
    """HTTP 401 code 57 again after a fresh token: the connection lacks the scope."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404, or Zoho's "does not exist" code (1002, 2006 for an item) in any status."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class RateLimitError(APIStatusError):
    """HTTP 429, or code 44/45/1070 in any status."""


class DailyQuotaExceeded(RateLimitError):
    """Code 45: the organization's daily API quota is spent (Free 1,000 ... 10,000 a day).

    ``resets_at`` is when Zoho renews it (from ``X-Rate-Limit-Reset``; ``None`` when Zoho did not
    say); ``organization_id`` is the organization. No request for it is sent again before then:
    raised without sending while the block lasts (``status_code`` and ``response`` are then
    ``None``). ``retry_after`` counts the seconds to ``resets_at``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = 45,
        body: object = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
        resets_at: datetime | None = None,
        organization_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            code=code,
            body=body,
            response=response,
            retry_after=retry_after,
        )
        self.resets_at = resets_at
        self.organization_id = organization_id


class IPBlockedError(RateLimitError):
    """Zoho blocked this machine's IP address for sending too many requests a minute, whatever
    the organization; every client of the process paused, and the retries ran out."""


class InternalServerError(APIStatusError):
    """HTTP 5xx."""
