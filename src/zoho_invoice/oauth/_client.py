"""Zoho Accounts clients: the authorize URL, the code exchange, refresh and revoke.

``BaseOAuthClient`` builds every request and reads every answer without doing I/O;
``OAuthClient`` and ``AsyncOAuthClient`` only send. Requests go only to accounts servers of the
data-centre table (SECURITY 9), never follow redirects, verify TLS (there is no switch to turn it
off, SECURITY 10), and carry their parameters in the form body: secrets never ride in a URL.

The revoke goes to ``{accounts}/oauth/v2/token/revoke`` with the token in the form body, as
Zoho's official SDKs send it (Zoho's pages show ``?token=``, which Zoho accepts too but which puts
the token in every log of a URL). Zoho's other revoke endpoint, ``/oauth/v2/revoke/token``, wants
the client's credentials in HTTP Basic and documents the token as a query parameter: it is not
used (docs/zoho/accounts.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode

from pydantic import SecretStr

from .._exceptions import (
    DataCenterError,
    InvalidClientError,
    InvalidGrantError,
    OAuthError,
    OAuthTransientError,
    TokenResponseError,
)
from .._http import httpx
from .._redact import install_redaction
from .._tls import require_verified_tls
from ..datacenters import DataCenter, DataCenterTable
from ._parse import oauth_error_from_body, parse_token_response
from ._types import Grant, TokenSet

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["AsyncOAuthClient", "BaseOAuthClient", "OAuthClient"]

_USER_AGENT = "zoho-invoice-connect"

# httpx logs request URLs at INFO: no URL of ours carries a token, but a logged one is masked
# all the same, should a redirect or a mistake put one there.
install_redaction("httpx2", "httpx", "httpcore2", "httpcore")


@dataclass(frozen=True, slots=True)
class _Call:
    """A request to send, built without I/O; every parameter rides in ``form`` (a call has no
    query string, so no secret reaches a URL). ``repr`` hides the form."""

    what: str
    url: str
    form: Mapping[str, str] | None = None
    grant: Grant | None = None

    def __repr__(self) -> str:
        return f"_Call({self.what!r}, {self.url!r})"


class BaseOAuthClient:
    """Everything the twins share: configuration, request building, answer reading."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        scopes: Sequence[str],
        datacenters: DataCenterTable,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        if not isinstance(client_secret, SecretStr):
            raise TypeError("client_secret must be a pydantic SecretStr")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self.datacenters = datacenters
        self.timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"

    def _timeout_for(self, timeout: float | None) -> float:
        """A call's timeout: the caller's, never above the client's (nor below a moment)."""
        if timeout is None:
            return self.timeout
        return max(min(timeout, self.timeout), 0.001)

    def _require_verified_tls(self, http: object) -> None:
        """SECURITY 10, 50: an injected client must verify TLS, unless every URL of the table
        is plain http on a loopback IP (the sandbox's), where there is no TLS to verify."""
        if not self.datacenters.loopback_only:
            require_verified_tls(http, user="the OAuth client", where="Zoho's accounts server")

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Self:
        """The client ``ZOHO_CLIENT_ID``, ``ZOHO_CLIENT_SECRET`` (or its file),
        ``ZOHO_REDIRECT_URI``, ``ZOHO_SCOPES`` and ``ZOHO_DATACENTERS`` describe.

        ``ConfigurationError`` names whatever is missing. ``options`` go to the constructor
        (``http=``, ``timeout=``).
        """
        client_id, secret, redirect_uri = settings.require_client()
        return cls(
            client_id=client_id,
            client_secret=secret,
            redirect_uri=redirect_uri,
            scopes=settings.scopes,
            datacenters=DataCenterTable.from_settings(settings.datacenters),
            **options,
        )

    # -- the authorize URL -------------------------------------------------------------------

    def authorization_url(
        self, *, state: str, code_challenge: str, location: str | None = None
    ) -> str:
        """Where to send the browser: the US accounts server (China's for ``location='cn'``).

        Carries the ``state`` and the S256 challenge; the verifier stays with the caller.
        """
        datacenter = self.datacenters.start_for(location)
        query = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": ",".join(self.scopes),
            "access_type": "offline",
            "prompt": "consent",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return datacenter.authorize_url + "?" + urlencode(query)

    # -- request building --------------------------------------------------------------------

    def _table_datacenter(self, datacenter: DataCenter | str) -> DataCenter:
        """The table's own entry; a DataCenter that is not exactly it is refused."""
        location = datacenter if isinstance(datacenter, str) else datacenter.location
        entry = self.datacenters.get(location)
        if not isinstance(datacenter, str) and datacenter != entry:
            raise DataCenterError(
                f"data centre {entry.location!r} does not match the table; nothing sent"
            )
        return entry

    def _checked(self, call: _Call) -> _Call:
        # SECURITY 9: whatever built the call, it only leaves for a table's accounts server.
        if not self.datacenters.is_accounts_url(call.url):
            raise DataCenterError("refusing to send a token request outside the DC table")
        return call

    def _exchange_call(self, datacenter: DataCenter | str, code: str, code_verifier: str) -> _Call:
        entry = self._table_datacenter(datacenter)
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "redirect_uri": self.redirect_uri,
            "code": code,
            "code_verifier": code_verifier,
        }
        return self._checked(
            _Call("code exchange", entry.token_url, form=form, grant="authorization_code")
        )

    def _refresh_call(self, datacenter: DataCenter | str, refresh_token: str) -> _Call:
        entry = self._table_datacenter(datacenter)
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "refresh_token": refresh_token,
        }
        return self._checked(
            _Call("token refresh", entry.token_url, form=form, grant="refresh_token")
        )

    def _revoke_call(self, datacenter: DataCenter | str, token: str) -> _Call:
        entry = self._table_datacenter(datacenter)
        # In the form body, never the URL (where proxies and access logs would keep it).
        return self._checked(_Call("token revoke", entry.revoke_url, form={"token": token}))

    # -- answer reading ----------------------------------------------------------------------

    @staticmethod
    def _transport_error(call: _Call, exc: Exception) -> OAuthTransientError:
        if isinstance(exc, httpx.TimeoutException):
            kind = "timed out"
        elif isinstance(exc, httpx.DecodingError):
            # A body that does not match its Content-Encoding: as malformed as non-JSON.
            kind = "got an answer that could not be decoded"
        else:
            kind = "failed"
        if call.grant == "authorization_code":
            # SECURITY 20: a code is single-use; we cannot know whether Zoho consumed it.
            return OAuthTransientError(
                f"the code exchange with Zoho Accounts {kind}; the code cannot be reused: "
                "please connect again."
            )
        return OAuthTransientError(f"the {call.what} with Zoho Accounts {kind}; try again later.")

    @staticmethod
    def _refuse_redirect(call: _Call, status_code: int) -> None:
        if 300 <= status_code < 400:
            raise OAuthError(
                f"Zoho Accounts answered the {call.what} with a redirect (HTTP {status_code}); "
                "redirects are not followed."
            )

    def _read_tokens(self, call: _Call, status_code: int, body: bytes, sent_at: float) -> TokenSet:
        self._refuse_redirect(call, status_code)
        assert call.grant is not None
        return parse_token_response(status_code, body, now=sent_at, grant=call.grant)

    def _foreign_api_domain(self, datacenter: DataCenter | str, tokens: TokenSet) -> bool:
        """SECURITY 19: True when the answer names an API domain that is not the table's."""
        try:
            self.datacenters.check_api_domain(
                self._table_datacenter(datacenter).location, tokens.api_domain
            )
        except DataCenterError:
            return True
        return False

    def _api_domain_error(
        self, datacenter: DataCenter | str, *, revoked: bool
    ) -> TokenResponseError:
        location = self._table_datacenter(datacenter).location
        return TokenResponseError(
            f"Zoho's token answer names an API domain that is not the one of data centre "
            f"{location!r}, so it was not used and nothing was stored"
            + ("; the tokens it carried were revoked." if revoked else ".")
        )

    def _read_revoke(self, call: _Call, status_code: int, body: bytes) -> None:
        self._refuse_redirect(call, status_code)
        try:
            data = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            data = None
        error = None
        if isinstance(data, dict) and "error" in data:
            error = oauth_error_from_body(status_code, data)
        if isinstance(error, InvalidClientError):
            raise error
        if status_code == 400:
            raise InvalidGrantError(
                "Zoho Accounts does not know this token (already revoked or expired).",
                error=error.error if error else None,
            )
        if error is not None:
            raise error
        if status_code >= 500 or data is None:
            raise OAuthTransientError(
                f"Zoho Accounts answered the revoke with HTTP {status_code}; try again later."
            )
        if status_code != 200:
            raise OAuthError(f"Zoho Accounts answered the revoke with HTTP {status_code}.")


class OAuthClient(BaseOAuthClient):
    """Zoho Accounts over a blocking ``httpx.Client``.

    >>> client = OAuthClient(client_id="1000.X", client_secret=SecretStr("s"),
    ...     redirect_uri="https://app.example.com/zoho/callback",
    ...     scopes=["ZohoInvoice.invoices.READ"], datacenters=DataCenterTable.builtin())
    >>> tokens = client.refresh(client.datacenters.get("eu"), refresh_token)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        scopes: Sequence[str],
        datacenters: DataCenterTable,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            scopes=scopes,
            datacenters=datacenters,
            timeout=timeout,
            clock=clock,
        )
        if http is not None:
            self._require_verified_tls(http)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(follow_redirects=False)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: _Call, timeout: float | None = None) -> tuple[int, bytes, float]:
        request = self._http.build_request(
            "POST",
            call.url,
            data=call.form,
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT},
            timeout=self._timeout_for(timeout),
        )
        sent_at = self._clock()
        try:
            response = self._http.send(request, follow_redirects=False)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._transport_error(call, exc) from None
        return response.status_code, response.content, sent_at

    def exchange_code(
        self, datacenter: DataCenter | str, code: str, code_verifier: str
    ) -> TokenSet:
        """Trade a code for tokens at ``datacenter``. Never retried (codes are single-use)."""
        call = self._exchange_call(datacenter, code, code_verifier)
        tokens = self._read_tokens(call, *self._send(call))
        if self._foreign_api_domain(datacenter, tokens):
            # Zoho minted a refresh token we will not use: give it back, or it takes one of the
            # user's 20 for nothing. Best effort: the refusal stands whatever the revoke says.
            raise self._api_domain_error(datacenter, revoked=self._discard(datacenter, tokens))
        return tokens

    def _discard(self, datacenter: DataCenter | str, tokens: TokenSet) -> bool:
        if not tokens.refresh_token:
            return False
        try:
            self.revoke(datacenter, tokens.refresh_token)
        except (OAuthError, DataCenterError):
            return False
        return True

    def refresh(
        self, datacenter: DataCenter | str, refresh_token: str, *, timeout: float | None = None
    ) -> TokenSet:
        """One refresh attempt at ``datacenter`` (the token manager decides about retries).

        ``timeout``: seconds this attempt may wait at most (each of connect, send, answer),
        never more than the client's own ``timeout``; the manager passes what remains of the
        request's bound. A timeout is an ``OAuthTransientError`` as always."""
        call = self._refresh_call(datacenter, refresh_token)
        tokens = self._read_tokens(call, *self._send(call, timeout))
        if self._foreign_api_domain(datacenter, tokens):
            raise self._api_domain_error(datacenter, revoked=False)
        return tokens

    def revoke(self, datacenter: DataCenter | str, token: str) -> None:
        """Revoke a refresh (or access) token at ``datacenter``.

        ``InvalidGrantError`` when Zoho answers 400: it does not know the token (already dead).
        """
        call = self._revoke_call(datacenter, token)
        status_code, body, _ = self._send(call)
        self._read_revoke(call, status_code, body)


class AsyncOAuthClient(BaseOAuthClient):
    """Zoho Accounts over an ``httpx.AsyncClient``; the same behaviour as ``OAuthClient``."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        scopes: Sequence[str],
        datacenters: DataCenterTable,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            scopes=scopes,
            datacenters=datacenters,
            timeout=timeout,
            clock=clock,
        )
        if http is not None:
            self._require_verified_tls(http)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(follow_redirects=False)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: _Call, timeout: float | None = None) -> tuple[int, bytes, float]:
        request = self._http.build_request(
            "POST",
            call.url,
            data=call.form,
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT},
            timeout=self._timeout_for(timeout),
        )
        sent_at = self._clock()
        try:
            response = await self._http.send(request, follow_redirects=False)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._transport_error(call, exc) from None
        return response.status_code, response.content, sent_at

    async def exchange_code(
        self, datacenter: DataCenter | str, code: str, code_verifier: str
    ) -> TokenSet:
        """Trade a code for tokens at ``datacenter``. Never retried (codes are single-use)."""
        call = self._exchange_call(datacenter, code, code_verifier)
        tokens = self._read_tokens(call, *(await self._send(call)))
        if self._foreign_api_domain(datacenter, tokens):
            raise self._api_domain_error(
                datacenter, revoked=await self._discard(datacenter, tokens)
            )
        return tokens

    async def _discard(self, datacenter: DataCenter | str, tokens: TokenSet) -> bool:
        if not tokens.refresh_token:
            return False
        try:
            await self.revoke(datacenter, tokens.refresh_token)
        except (OAuthError, DataCenterError):
            return False
        return True

    async def refresh(
        self, datacenter: DataCenter | str, refresh_token: str, *, timeout: float | None = None
    ) -> TokenSet:
        """One refresh attempt at ``datacenter``; ``timeout`` as ``OAuthClient.refresh``."""
        call = self._refresh_call(datacenter, refresh_token)
        tokens = self._read_tokens(call, *(await self._send(call, timeout)))
        if self._foreign_api_domain(datacenter, tokens):
            raise self._api_domain_error(datacenter, revoked=False)
        return tokens

    async def revoke(self, datacenter: DataCenter | str, token: str) -> None:
        """Revoke a token at ``datacenter``; ``InvalidGrantError`` when Zoho does not know it."""
        call = self._revoke_call(datacenter, token)
        status_code, body, _ = await self._send(call)
        self._read_revoke(call, status_code, body)
