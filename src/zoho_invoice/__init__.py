"""zoho-invoice-connect: connect your users' Zoho Invoice accounts and work with their invoices.

The public API is exactly what ``__all__`` lists; everything in a ``_private`` module may change.
The web service (``zoho_invoice.web``) and the command line (``zoho_invoice.cli``) are subpackages
with optional dependencies (``pip install 'zoho-invoice-connect[all]'``); the local Zoho sandbox is
a distribution of its own, ``zoho-invoice-sandbox`` (import ``zoho_invoice_sandbox``, the
``sandbox`` extra).

>>> from zoho_invoice import Settings, TokenManager, ZohoInvoice
>>> manager = TokenManager.from_settings(Settings())  # doctest: +SKIP
>>> with ZohoInvoice.for_connection(manager, connection_id) as zoho:  # doctest: +SKIP
...     overdue = list(zoho.invoices.iter_all(status="overdue"))
"""

# Private aliases: the namespace holds nothing public beyond ``__all__``.
import importlib as _importlib
import typing as _typing

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    AuthorizationDenied,
    BadRequestError,
    ClientSecretRejectedError,
    ConfigurationError,
    ConflictError,
    ConnectFlowError,
    ConnectionNotFoundError,
    DailyQuotaExceeded,
    DataCenterError,
    DecryptionError,
    InternalServerError,
    InvalidClientError,
    InvalidClientSecretError,
    InvalidGrantError,
    InvalidRedirectURIError,
    InvalidRequestError,
    InvalidVaultInputError,
    IPBlockedError,
    KeyRingError,
    MissingScopeError,
    NotFoundError,
    OAuthError,
    OAuthTransientError,
    PermissionDeniedError,
    RateLimitError,
    ReauthorizationRequired,
    StaleWriteError,
    TokenError,
    TokenResponseError,
    TokenThrottledError,
    TokenUnavailableError,
    VaultError,
    VaultUnavailableError,
    ZohoError,
)
from ._version import __version__

if _typing.TYPE_CHECKING:
    from .api import AsyncZohoInvoice, ZohoInvoice
    from .datacenters import DataCenter, DataCenterTable
    from .oauth import AsyncOAuthClient, OAuthClient, TokenSet
    from .settings import DEFAULT_SCOPES, Settings
    from .tokens import AccessToken, AsyncTokenManager, ConnectionEvent, TokenManager
    from .vault import Connection, KeyRing, Vault

#: Each public name this package imports on first use (PEP 562), and the submodule that defines
#: it. ``import zoho_invoice.api`` runs this file, so an eager import here would load the vault
#: (SQLAlchemy, Alembic) and the token manager into every process that only calls Zoho: some
#: 100,000 objects that every full garbage collection then walks (issue 9, the loop's lag).
_LAZY: dict[str, str] = {
    "AsyncZohoInvoice": ".api",
    "ZohoInvoice": ".api",
    "DataCenter": ".datacenters",
    "DataCenterTable": ".datacenters",
    "AsyncOAuthClient": ".oauth",
    "OAuthClient": ".oauth",
    "TokenSet": ".oauth",
    "DEFAULT_SCOPES": ".settings",
    "Settings": ".settings",
    "AccessToken": ".tokens",
    "AsyncTokenManager": ".tokens",
    "ConnectionEvent": ".tokens",
    "TokenManager": ".tokens",
    "Connection": ".vault",
    "KeyRing": ".vault",
    "Vault": ".vault",
}

#: The submodules this package used to import eagerly, so ``zoho_invoice.vault`` after a bare
#: ``import zoho_invoice`` still works; each is imported on first use now.
_SUBMODULES = frozenset({"api", "datacenters", "oauth", "settings", "tokens", "vault"})


def __getattr__(name: str) -> _typing.Any:
    """Import a public name's submodule on first use and keep the name here, so the next access
    is a plain global (PEP 562)."""
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """What ``dir()`` showed when every name was imported eagerly: the public names too."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DEFAULT_SCOPES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AccessToken",
    "AsyncOAuthClient",
    "AsyncTokenManager",
    "AsyncZohoInvoice",
    "AuthenticationError",
    "AuthorizationDenied",
    "BadRequestError",
    "ClientSecretRejectedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectFlowError",
    "Connection",
    "ConnectionEvent",
    "ConnectionNotFoundError",
    "DailyQuotaExceeded",
    "DataCenter",
    "DataCenterError",
    "DataCenterTable",
    "DecryptionError",
    "IPBlockedError",
    "InternalServerError",
    "InvalidClientError",
    "InvalidClientSecretError",
    "InvalidGrantError",
    "InvalidRedirectURIError",
    "InvalidRequestError",
    "InvalidVaultInputError",
    "KeyRing",
    "KeyRingError",
    "MissingScopeError",
    "NotFoundError",
    "OAuthClient",
    "OAuthError",
    "OAuthTransientError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReauthorizationRequired",
    "Settings",
    "StaleWriteError",
    "TokenError",
    "TokenManager",
    "TokenResponseError",
    "TokenSet",
    "TokenThrottledError",
    "TokenUnavailableError",
    "Vault",
    "VaultError",
    "VaultUnavailableError",
    "ZohoError",
    "ZohoInvoice",
    "__version__",
]
