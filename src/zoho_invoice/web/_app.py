"""``create_app()``: the service as one FastAPI app."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .._exceptions import VaultUnavailableError
from .._health import RedisProbe
from .._serving import MAX_BODY_BYTES, BodyLimitMiddleware
from ..settings import Settings
from ._api import api_router as _api_router
from ._api import check_bearer, require_api_key, require_metrics_key
from ._connect import connect_router as _connect_router
from ._context import OrganizationsReader, UserReader, WebContext, build_context
from ._demo import demo_router
from ._errors import UNAVAILABLE_MESSAGE, error_response, install_error_handlers
from ._sync_api import sync_routers

if TYPE_CHECKING:
    from .._http import httpx
    from ..api import RequestBudget
    from ..oauth import OAuthClient
    from ..tokens import EventSink, TokenManager
    from ..vault import Vault

__all__ = ["api_router", "connect_router", "create_app", "demo_hosts"]

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


#: Host names the demo always answers to, besides ``ZOHO_PUBLIC_URL``'s.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def demo_hosts(settings: Settings) -> list[str]:
    """The ``Host`` names the demo answers: its public URL's and loopback (SECURITY 51)."""
    public = urlsplit(settings.public_url).hostname or ""
    if ":" in public:
        public = f"[{public}]"  # an IPv6 literal, as the Host header writes it
    return sorted({public, *LOOPBACK_HOSTS} - {""})


def connect_router(
    settings: Settings | None = None,
    *,
    vault: Vault | None = None,
    oauth: OAuthClient | None = None,
    manager: TokenManager | None = None,
    context: WebContext | None = None,
) -> APIRouter:
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
) -> APIRouter:
    """The JSON API (``/api/...``) to mount in your app; it needs ``ZOHO_API_KEY`` (32 or more
    characters, else ``ConfigurationError``)."""
    if context is None:
        settings = settings or Settings()
        require_api_key(settings)  # before the database is opened
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

    ``ConfigurationError`` when ``ZOHO_API_KEY`` (or a set ``ZOHO_METRICS_KEY``) is under 32
    characters. Request bodies over 1 MB are answered 413; with ``demo`` only the public URL's
    host name and loopback names are answered (``Host`` anything else → 400).
    """
    _install_redaction()
    settings = settings or Settings()
    # Before anything is opened: a guessable key stops the start-up (SECURITY 47).
    require_api_key(settings)
    require_metrics_key(settings)
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
    # Before any route reads a body: 413 past 1 MB, counted as it arrives (SECURITY 47).
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    if demo:
        # A DNS-rebinding page reaches the demo under its own host name: answer only ours.
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=demo_hosts(ctx.settings), www_redirect=False
        )
    # The mirror's routes before the API's catch-all for /api (issue 10).
    for router in sync_routers(ctx):
        app.include_router(router)
    app.include_router(_api_router(ctx))
    app.include_router(_connect_router(ctx))
    if demo:
        app.include_router(demo_router(ctx))

    # Redis is an accelerator: down, it degrades the service (200), it does not stop it.
    redis_probe = RedisProbe.from_url(ctx.settings.redis_url) if ctx.settings.redis_url else None

    @app.get(
        "/healthz",
        tags=["health"],
        responses={503: {"description": "The database is not answering"}},
    )
    def healthz(request: Request) -> Response:
        """200 when the database answers, 503 otherwise. With ``ZOHO_REDIS_URL``, ``redis``
        says ``ok`` or ``unavailable`` (a ping of 0.25 s at most, kept 2 s) and ``status`` is
        ``degraded`` while it is unavailable, still 200: refreshes go on without it."""
        try:
            ctx.vault.ping()
        except VaultUnavailableError:
            return error_response(503, "unavailable", UNAVAILABLE_MESSAGE)
        except Exception as exc:
            logger.warning("health check failed: %s", type(exc).__name__)
            return error_response(503, "unavailable", UNAVAILABLE_MESSAGE)
        if redis_probe is None:
            return JSONResponse({"status": "ok"})
        redis_state = redis_probe.state()
        return JSONResponse(
            {
                "status": "ok" if redis_state == "ok" else "degraded",
                "database": "ok",
                "redis": redis_state,
            }
        )

    metrics_key = require_metrics_key(ctx.settings)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this process, behind ``ZOHO_METRICS_KEY``: a key that opens
        nothing else, so a scraper never holds the key that mints tokens (SECURITY 47). Without
        that key, metrics are off (404)."""
        from .. import _metrics

        if metrics_key is None:
            return error_response(
                404, "not_found", "metrics are off: set ZOHO_METRICS_KEY to read them"
            )
        refused = check_bearer(request, metrics_key.get_secret_value(), name="ZOHO_METRICS_KEY")
        if refused is not None:
            return refused
        return Response(
            _metrics.render(),
            media_type=_metrics.CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return app
