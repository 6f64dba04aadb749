"""Unit test: each package's public surface is exactly its ``__all__``, sorted, importable,
documented, and the known list below, so an accidental export (or a lost one) fails here.

Internals stay importable from their private modules (``zoho_invoice.api._errors`` ...); a name
moves into a list below only when a user needs it (the README, docs/internals.md).
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

import zoho_invoice

_ERRORS = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "AuthorizationDenied",
    "BadRequestError",
    "ClientSecretRejectedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectFlowError",
    "ConnectionNotFoundError",
    "DailyQuotaExceeded",
    "DataCenterError",
    "DecryptionError",
    "IPBlockedError",
    "InternalServerError",
    "InvalidClientError",
    "InvalidClientSecretError",
    "InvalidGrantError",
    "InvalidRedirectURIError",
    "InvalidRequestError",
    "InvalidVaultInputError",
    "KeyRingError",
    "MissingScopeError",
    "NotFoundError",
    "OAuthError",
    "OAuthTransientError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReauthorizationRequired",
    "StaleWriteError",
    "TokenError",
    "TokenResponseError",
    "TokenThrottledError",
    "TokenUnavailableError",
    "VaultError",
    "VaultUnavailableError",
    "ZohoError",
]

PUBLIC: dict[str, set[str]] = {
    "zoho_invoice": {
        *_ERRORS,
        "DEFAULT_SCOPES",
        "AccessToken",
        "AsyncOAuthClient",
        "AsyncTokenManager",
        "AsyncZohoInvoice",
        "Connection",
        "ConnectionEvent",
        "DataCenter",
        "DataCenterTable",
        "KeyRing",
        "OAuthClient",
        "Settings",
        "TokenManager",
        "TokenSet",
        "Vault",
        "ZohoInvoice",
        "__version__",
    },
    "zoho_invoice.api": {
        "AsyncPageIterator",
        "AsyncQuotaBlocks",
        "AsyncRequestBudget",
        "AsyncTokenProvider",
        "AsyncZohoInvoice",
        "IPThrottle",
        "InProcessQuotaBlocks",
        "Page",
        "PageIterator",
        "QuotaBlocks",
        "RateLimitStatus",
        "RedisQuotaBlocks",
        "RedisRequestBudget",
        "RequestBudget",
        "StaticTokenProvider",
        "TokenBucketBudget",
        "TokenInfo",
        "TokenProvider",
        "UnlimitedBudget",
        "ZohoInvoice",
        "budget_from_settings",
        "default_budget",
        "quota_blocks_from_settings",
    },
    "zoho_invoice.api.types": {
        "AppliedCredit",
        "BulkReminderInfo",
        "Contact",
        "ContactParams",
        "ContactPerson",
        "ContactPersonParams",
        "CreditNote",
        "CreditNoteApplication",
        "CreditNoteCreditParams",
        "CreditNoteParams",
        "CreditNoteRefund",
        "CreditNoteRefundParams",
        "CreditNoteUse",
        "Currency",
        "CustomField",
        "CustomFieldParams",
        "CustomerPayment",
        "CustomerPaymentParams",
        "Discount",
        "EmailContact",
        "EmailContent",
        "EmailSender",
        "EmailTemplateChoice",
        "Estimate",
        "EstimateParams",
        "HasCustomFields",
        "Invoice",
        "InvoiceAmountApplied",
        "InvoiceAttachment",
        "InvoiceComment",
        "InvoiceCreditParams",
        "InvoiceCredited",
        "InvoiceParams",
        "InvoicePayment",
        "InvoicePaymentCreditParams",
        "InvoicePaymentUse",
        "InvoiceTemplate",
        "Item",
        "ItemParams",
        "LineItem",
        "LineItemParams",
        "Money",
        "Organization",
        "PageContext",
        "PaymentInvoice",
        "PaymentInvoiceParams",
        "RecurringInvoice",
        "RecurringInvoiceParams",
        "ReminderFailure",
        "ReminderSuccess",
        "Tax",
        "TaxGroup",
        "TaxParams",
        "UseCredits",
        "User",
        "ZohoDate",
        "ZohoDateTime",
        "ZohoID",
        "ZohoModel",
        "ZohoParams",
    },
    "zoho_invoice.mirror": {
        "RESOURCES",
        "AsyncMirror",
        "Change",
        "ChangeKind",
        "ClientFactory",
        "Mirror",
        "MirrorError",
        "MirrorSettings",
        "MirroredRecord",
        "ProgressCallback",
        "ResourceName",
        "ResourceReport",
        "ResourceStatus",
        "SyncOutcome",
        "SyncPhase",
        "SyncProgress",
        "SyncReport",
        "SyncShareBudget",
        "SyncStatus",
    },
    "zoho_invoice.oauth": {
        "AsyncOAuthClient",
        "OAuthClient",
        "TokenSet",
        "code_challenge",
        "make_code_verifier",
        "new_state",
    },
    "zoho_invoice.tokens": {
        "AccessToken",
        "AsyncTokenManager",
        "Backoff",
        "ConnectionEvent",
        "DeliveryRound",
        "EventSink",
        "EventType",
        "InProcessRefreshLocks",
        "LoggingEventSink",
        "OutboxEventSink",
        "RedisRefreshLocks",
        "RefreshCycle",
        "RefreshLocks",
        "RefreshRound",
        "TokenManager",
        "TokenVault",
        "WebhookDeliverer",
        "WebhookDispatcher",
        "WorkerPolicy",
        "WorkerVault",
        "event_sink_from_settings",
        "process_revocations",
        "refresh_due",
        "refresh_expiring",
        "webhook_deliverer_from_settings",
        "webhooks_from_settings",
    },
    "zoho_invoice.vault": {
        "ConnectSession",
        "Connection",
        "KeyRing",
        "OutboxEntry",
        "PendingRevocation",
        "Status",
        "StoredTokens",
        "UnitOfWork",
        "Vault",
        "WebhookOutbox",
        "after_commit",
        "upgrade_database",
    },
    "zoho_invoice.web": {
        "WebContext",
        "api_router",
        "build_context",
        "connect_router",
        "create_app",
        "organizations_reader",
        "users_reader",
    },
    "zoho_invoice.cli": {"app", "main"},
}

#: Internals a user does not need, kept out of every ``__all__`` (each still importable from the
#: private module named): one of them exported again fails here, whatever the package.
INTERNAL = {
    "zoho_invoice.api._auth": ["TokenAuth", "AsyncTokenAuth", "ConnectionTokenProvider"],
    "zoho_invoice.api._errors": ["make_api_error"],
    "zoho_invoice.api._budget": ["ConcurrencyCap"],
    "zoho_invoice.api._quota": ["LayeredQuotaBlocks", "default_quota_blocks"],
    "zoho_invoice.api._ip_throttle": ["default_ip_throttle"],
    "zoho_invoice.oauth._client": ["BaseOAuthClient"],
    "zoho_invoice.oauth._parse": ["parse_token_response"],
    "zoho_invoice.tokens._locks": ["LayeredRefreshLocks"],
    "zoho_invoice.tokens._events": ["webhook_payload"],
    "zoho_invoice.vault._db": ["create_engine_for"],
    "zoho_invoice.vault._leases": ["DatabaseRefreshLocks"],
    "zoho_invoice.vault._quota_blocks": ["DatabaseQuotaBlocks"],
}


def _package(name: str) -> ModuleType:
    return importlib.import_module(name)


def _house_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then functions,
    then dunders."""
    if name.startswith("__"):
        return 3, name
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_all_is_the_known_list_sorted_and_importable(name: str) -> None:
    package = _package(name)
    exported = list(package.__all__)
    assert exported == sorted(exported, key=_house_order), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    assert set(exported) == PUBLIC[name], f"{name}.__all__ changed: update PUBLIC on purpose"
    for member in exported:
        assert not member.startswith("_") or member == "__version__", f"{name}.{member}"
        assert hasattr(package, member), f"{name}.{member} is listed but not importable"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_namespace_holds_nothing_public_beyond_all(name: str) -> None:
    package = _package(name)
    public = {member for member in dir(package) if not member.startswith("_")}
    # Subpackages and modules imported as a side effect of re-exports are not the surface.
    modules = {member for member in public if inspect.ismodule(getattr(package, member))}
    assert public - modules == set(package.__all__) - {"__version__"}, name


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_exported_class_and_function_has_a_docstring(name: str) -> None:
    package = _package(name)
    for member_name in package.__all__:
        member = getattr(package, member_name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert inspect.getdoc(member), f"{name}.{member_name} has no docstring"


@pytest.mark.parametrize(("module", "names"), sorted(INTERNAL.items()))
def test_internals_stay_private_but_importable(module: str, names: list[str]) -> None:
    for name in names:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
        for package in PUBLIC:
            assert name not in _package(package).__all__, f"{package} exports internal {name}"


def test_errors_share_one_root() -> None:
    for name in zoho_invoice.__all__:
        member = getattr(zoho_invoice, name)
        if inspect.isclass(member) and issubclass(member, Exception):
            assert issubclass(member, zoho_invoice.ZohoError), name
