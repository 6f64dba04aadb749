"""What the routes share: settings, the vault, the OAuth client, the token manager, pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi.templating import Jinja2Templates

from .._exceptions import ZohoError
from .._http import httpx
from ..datacenters import DataCenterTable
from ..settings import Settings
from ..tokens import ConnectionEvent

if TYPE_CHECKING:
    from ..api import QuotaBlocks, RequestBudget, ZohoInvoice
    from ..api.types import Organization
    from ..oauth import OAuthClient
    from ..tokens import EventSink, TokenManager, WebhookDispatcher
    from ..vault import Connection, Vault

logger = logging.getLogger("zoho_invoice.web")

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: ``(access_token, api_domain) -> [(organization_id, name), ...]``
OrganizationsReader = Callable[[str, str], list[tuple[str, str]]]


def organizations_reader(http_client: httpx.Client | None = None) -> OrganizationsReader:
    """A reader of a new connection's organizations through the Invoice API client.

    ``http_client`` lets tests (or a proxy setup) choose the transport.
    """

    def read(access_token: str, api_domain: str) -> list[tuple[str, str]]:
        from ..api import ZohoInvoice

        with ZohoInvoice(
            access_token=access_token, api_domain=api_domain, http_client=http_client
        ) as client:
            orgs = client.organizations.list()
            return [(o.organization_id, o.name or o.organization_id) for o in orgs]

    return read


read_organizations = organizations_reader()

#: ``(access_token, api_domain, organization_id) -> the Zoho user id`` of the token's user.
UserReader = Callable[[str, str, str], str]


def users_reader(http_client: httpx.Client | None = None) -> UserReader:
    """A reader of who a new token belongs to: Zoho Invoice's ``GET /users/me``.

    It tells a reconnect by the same Zoho user from a connect by another (SECURITY 44). Zoho
    answers it for one organization the user belongs to (scope ``ZohoInvoice.settings.READ``).
    """

    def read(access_token: str, api_domain: str, organization_id: str) -> str:
        from ..api import ZohoInvoice

        with ZohoInvoice(
            access_token=access_token,
            api_domain=api_domain,
            organization_id=organization_id,
            http_client=http_client,
        ) as client:
            return str(client.users.me().user_id)

    return read


read_current_user = users_reader()


@dataclass
class WebContext:
    """Everything a request handler needs; built once per app (or per mounted router)."""

    settings: Settings
    vault: Vault
    oauth: OAuthClient
    manager: TokenManager
    datacenters: DataCenterTable
    templates: Jinja2Templates
    organizations: OrganizationsReader = read_organizations
    current_user: UserReader = read_current_user
    events: EventSink | None = None
    #: Sends queued webhooks from a thread (when ``ZOHO_WEBHOOK_URL`` is set and ``events`` was
    #: built from the settings); ``run_service`` starts it and closes it at shutdown.
    webhooks: WebhookDispatcher | None = None
    #: The transport and request budget of the Invoice API client (tests: the sandbox in process).
    api_http_client: httpx.Client | None = None
    api_budget: RequestBudget | None = None
    #: Daily-quota blocks (Zoho's code 45) shared with every worker: Redis, else the vault's DB.
    api_quota_blocks: QuotaBlocks | None = None
    _revoke_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.startswith("https://")

    @property
    def callback_path(self) -> str:
        """The path of the redirect URI: the binding cookie is scoped to it (SECURITY 16)."""
        if self.settings.redirect_uri:
            path = urlsplit(self.settings.redirect_uri).path
            if path:
                return path
        return "/callback"

    def invoice_client(
        self, connection_id: str, organization_id: str | None = None, *, max_retries: int = 0
    ) -> ZohoInvoice:
        """The Invoice API client of a stored connection (a fresh token from the manager).

        Pages answer at once: no retry by default, so an error shows instead of a long wait.
        """
        from ..api import ZohoInvoice

        return ZohoInvoice.for_connection(
            self.manager,
            connection_id,
            organization_id,
            http_client=self.api_http_client,
            budget=self.api_budget,
            quota_blocks=self.api_quota_blocks,
            max_retries=max_retries,
        )

    def connection_organizations(self, connection_id: str) -> list[Organization]:
        """The organizations of a connection's user, read now through the Invoice API.

        Raises ``ReauthorizationRequired``, ``TokenUnavailableError`` or an ``APIError`` (an
        ``APIStatusError`` for what Zoho answered, an ``APIConnectionError`` for no answer).
        """
        with self.invoice_client(connection_id) as client:
            return list(client.organizations.list())

    def emit(self, event: ConnectionEvent) -> None:
        """Hand a connection event to the sink; a failing sink never breaks a flow."""
        if self.events is None:
            return
        try:
            self.events(event)
        except Exception:  # a webhook or sink failure must not lose a connection
            logger.warning("the event sink failed for %s", event.type)

    def disconnect(self, connection_id: str) -> Connection:
        """Forget the connection's tokens (queued for revocation at Zoho) and announce
        ``connection.revoked``, in one unit of work: both are committed or neither is."""
        with self.vault.unit_of_work():
            revoked = self.vault.disconnect(connection_id)
            self.emit(
                ConnectionEvent(
                    type="connection.revoked",
                    connection_id=revoked.id,
                    owner=revoked.owner,
                    at=revoked.updated_at,
                    reason="disconnected",
                )
            )
        return revoked

    def process_revocations(self) -> None:
        """Send queued revocations to Zoho now (one runner at a time in this process)."""
        from ..tokens import process_revocations

        with self._revoke_lock:
            try:
                process_revocations(self.vault, self.oauth)
            except ZohoError as exc:
                logger.warning("revocations will be retried later: %s", type(exc).__name__)
            except Exception:
                logger.exception("revocations failed; they stay queued and are retried later")


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


def build_context(
    settings: Settings | None = None,
    *,
    vault: Vault | None = None,
    oauth: OAuthClient | None = None,
    manager: TokenManager | None = None,
    organizations: OrganizationsReader | None = None,
    current_user: UserReader | None = None,
    events: EventSink | None = None,
    api_http_client: httpx.Client | None = None,
    api_budget: RequestBudget | None = None,
) -> WebContext:
    """Fill in whatever was not given from ``settings`` (the environment by default)."""
    settings = settings or Settings()
    datacenters = (
        oauth.datacenters
        if oauth is not None
        else DataCenterTable.from_settings(settings.datacenters)
    )
    if vault is None:
        from ..vault import KeyRing, Vault

        if settings.encryption_keys is None:
            from .._exceptions import KeyRingError

            raise KeyRingError("ZOHO_ENCRYPTION_KEYS is not set (zoho-invoice keys generate)")
        from .._files import ensure_private_dir

        keyring = KeyRing.from_string(settings.encryption_keys.get_secret_value())
        ensure_private_dir(settings.data_dir)  # 0700: the database lives there (SECURITY 49)
        vault = Vault.open(settings.resolved_database_url, keyring, upgrade=True)
    if oauth is None:
        from ..oauth import OAuthClient

        oauth = OAuthClient.from_settings(settings)
    webhooks = None
    if events is None:
        from ..tokens import webhooks_from_settings

        events, webhooks = webhooks_from_settings(settings, vault)
    if manager is None:
        from ..tokens import TokenManager

        manager = TokenManager.from_settings(settings, vault=vault, oauth=oauth, events=events)
    if api_budget is None:
        from ..api import budget_from_settings

        api_budget = budget_from_settings(settings)
    from ..api import quota_blocks_from_settings

    return WebContext(
        settings=settings,
        vault=vault,
        oauth=oauth,
        manager=manager,
        datacenters=datacenters,
        templates=make_templates(),
        organizations=organizations or read_organizations,
        # The Invoice API transport given for the routes serves this reader too (tests).
        current_user=current_user
        or (read_current_user if api_http_client is None else users_reader(api_http_client)),
        events=events,
        webhooks=webhooks,
        api_http_client=api_http_client,
        api_budget=api_budget,
        api_quota_blocks=quota_blocks_from_settings(settings, vault),
    )
