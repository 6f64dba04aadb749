"""``create_app()``: the service as one FastAPI app."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .._exceptions import VaultUnavailableError
from ..settings import Settings
from ._api import api_router as _api_router
from ._connect import connect_router as _connect_router
from ._context import OrganizationsReader, UserReader, WebContext, build_context
from ._demo import demo_router
from ._errors import UNAVAILABLE_MESSAGE, error_response, install_error_handlers

if TYPE_CHECKING:
    from .._http import httpx
    from ..api import RequestBudget
    from ..oauth import OAuthClient
    from ..tokens import EventSink, TokenManager
    from ..vault import Vault

__all__ = ["api_router", "connect_router", "create_app"]

logger = logging.getLogger("zoho_invoice.web")


#: Loggers whose records (their children's too) may carry a callback URL, a connect path or a
#: token: uvicorn's access log shows every request line.
_REDACTED_LOGGERS = (
    "zoho_invoice",
    "uvicorn",
    "gunicorn",
    "starlette",
    "fastapi",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
)


def _install_redaction() -> None:
    """Every record of these loggers is redacted, whatever handlers log it (SECURITY 38)."""
    from .._redact import install_redaction

    install_redaction(*_REDACTED_LOGGERS)


def connect_router(
    settings: Settings | None = None,
    *,
    vault: Vault | None = None,
    oauth: OAuthClient | None = None,
    manager: TokenManager | None = None,
    context: WebContext | None = None,
) -> Any:
    """The browser routes (``/connect/{token}``, ``/callback``) to mount in your app.

    >>> app.include_router(connect_router(settings, vault=vault, oauth=oauth))  # doctest: +SKIP
    """
    ctx = context or build_context(settings, vault=vault, oauth=oauth, manager=manager)
    _install_redaction()
    return _connect_router(ctx)


def api_router(
    settings: Settings | None = None,
    *,
    vault: Vault | None = None,
    oauth: OAuthClient | None = None,
    manager: TokenManager | None = None,
    context: WebContext | None = None,
) -> Any:
    """The JSON API (``/api/...``) to mount in your app; it needs ``ZOHO_API_KEY``."""
    ctx = context or build_context(settings, vault=vault, oauth=oauth, manager=manager)
    _install_redaction()
    return _api_router(ctx)


def create_app(
    settings: Settings | None = None,
    *,
    vault: Vault | None = None,
    oauth: OAuthClient | None = None,
    manager: TokenManager | None = None,
    demo: bool = False,
    organizations: OrganizationsReader | None = None,
    current_user: UserReader | None = None,
    events: EventSink | None = None,
    api_http_client: httpx.Client | None = None,
    api_budget: RequestBudget | None = None,
) -> FastAPI:
    """The whole service: browser routes, the JSON API, ``/healthz`` (and the demo dashboard).

    Whatever is not passed is built from ``settings`` (by default, the environment).
    ``organizations`` replaces how a new connection's organizations are read, and
    ``current_user`` how its Zoho user is told (tests);
    ``events`` receives connection events (a callable; default: webhooks or the log).
    ``api_http_client`` and ``api_budget`` are handed to the Invoice API client the routes use
    (reading organizations, the demo's invoices): a transport for tests, a shared budget.
    """
    _install_redaction()
    ctx = build_context(
        settings,
        vault=vault,
        oauth=oauth,
        manager=manager,
        organizations=organizations,
        current_user=current_user,
        events=events,
        api_http_client=api_http_client,
        api_budget=api_budget,
    )
    app = FastAPI(
        title="Zoho Invoice Connect",
        version="0.1.0",
        description="Connect your users' Zoho Invoice accounts; hand out fresh access tokens.",
        docs_url="/docs" if demo else None,
        redoc_url=None,
    )
    app.state.context = ctx
    install_error_handlers(app)
    app.include_router(_api_router(ctx))
    app.include_router(_connect_router(ctx))
    if demo:
        app.include_router(demo_router(ctx))

    @app.get(
        "/healthz",
        tags=["health"],
        responses={503: {"description": "The database is not answering"}},
    )
    def healthz(request: Request) -> Response:
        """200 when the database answers, 503 otherwise."""
        try:
            ctx.vault.ping()
        except VaultUnavailableError:
            return error_response(503, "unavailable", UNAVAILABLE_MESSAGE)
        except Exception as exc:
            logger.warning("health check failed: %s", type(exc).__name__)
            return error_response(503, "unavailable", UNAVAILABLE_MESSAGE)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this process, behind the API key like the JSON API."""
        from .. import _metrics
        from ._api import _check_api_key

        refused = _check_api_key(ctx, request)
        if refused is not None:
            return refused
        return Response(_metrics.render(), media_type=_metrics.CONTENT_TYPE)

    return app
