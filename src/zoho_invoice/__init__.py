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
from .api import AsyncZohoInvoice, ZohoInvoice
from .datacenters import DataCenter, DataCenterTable
from .oauth import AsyncOAuthClient, OAuthClient, TokenSet
from .settings import DEFAULT_SCOPES, Settings
from .tokens import AccessToken, AsyncTokenManager, ConnectionEvent, TokenManager
from .vault import Connection, KeyRing, Vault

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
