"""What every ``zoho-invoice`` command shares: the consoles, ending with a clear message, the
settings, the vault, the OAuth client and serving the app.

Every other CLI module imports from here and nothing here imports them, so the command modules
load in any order without a cycle.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from starlette.types import ASGIApp

from .._exceptions import ConfigurationError, KeyRingError, ZohoError
from .._files import ensure_private_dir
from .._redact import RedactingFilter
from .._serving import (
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_IP,
    BoundedConfig,
    serve_workers,
    server_config,
)
from ..oauth import OAuthClient
from ..settings import Settings
from ..vault import KeyRing, Vault

__all__ = [
    "HostOption",
    "PortOption",
    "err",
    "fail",
    "load_settings",
    "make_oauth",
    "open_vault",
    "out",
    "require_webhook",
    "run_service",
    "service_worker_app",
    "setup_logging",
]

err = Console(stderr=True)
out = Console()

HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """End with a clear message on stderr and exit code 2 (no traceback)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr through the redacting filter (SECURITY 38)."""
    root = logging.getLogger()
    if not any(getattr(h, "_zoho_invoice", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        handler._zoho_invoice = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def load_settings(**overrides: object) -> Settings:
    """The settings (environment, then the working directory's ``.env``), or a clear refusal."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"ZOHO_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid settings: {problems}")


def open_vault(settings: Settings, *, upgrade: bool = True) -> Vault:
    """The vault, or a clear refusal when the keys or the database are wrong (SECURITY 24)."""
    if settings.encryption_keys is None or not settings.encryption_keys.get_secret_value():
        fail(
            "ZOHO_ENCRYPTION_KEYS is not set; create one with `zoho-invoice keys generate` "
            "and keep it safe (losing it loses every stored connection)"
        )
    try:
        keyring = KeyRing.from_string(settings.encryption_keys.get_secret_value())
        if settings.database_url is None:
            ensure_private_dir(settings.data_dir)
        vault = Vault.open(settings.resolved_database_url, keyring, upgrade=upgrade)
        vault.check_keyring()
    except KeyRingError as exc:
        fail(f"refusing to start: {exc}")
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")
    except ZohoError as exc:
        fail(f"cannot open the database: {exc}")
    except OSError as exc:
        fail(f"cannot create the data directory {settings.data_dir}: {exc.strerror}")
    return vault


def make_oauth(settings: Settings) -> OAuthClient:
    """The OAuth client of ``settings``, or a clear refusal."""
    try:
        return OAuthClient.from_settings(settings)
    except ConfigurationError as exc:
        fail(str(exc))


def require_webhook(settings: Settings) -> None:
    """Refuse to start with a webhook URL that lacks a strong secret or https (SECURITY 48)."""
    try:
        settings.require_webhook()
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")


def run_service(
    settings: Settings,
    *,
    host: str,
    port: int,
    demo: bool = False,
    max_connections: int = MAX_CONNECTIONS,
    max_connections_per_ip: int = MAX_CONNECTIONS_PER_IP,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive: int = KEEP_ALIVE_TIMEOUT,
    workers: int = 1,
) -> None:
    """Build the app from ``settings`` and serve it with uvicorn until interrupted.

    The bounds go to ``_serving.server_config``: what one client may hold (SECURITY 51). With
    ``workers`` over 1, that many processes share the port (``_serving.serve_workers``), each
    building its app from the environment as this one did (``service_worker_app``) and holding
    the bounds on its own.
    """
    # Imported here: FastAPI (the web extra) loads only for the commands that serve.
    from ..web import create_app

    require_webhook(settings)
    vault = open_vault(settings, upgrade=True)
    oauth = make_oauth(settings)

    def bounded(app: ASGIApp | str, **options: bool) -> BoundedConfig:
        return server_config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=True,
            server_header=False,
            max_connections=max_connections,
            max_connections_per_ip=max_connections_per_ip,
            header_timeout=header_timeout,
            keep_alive=keep_alive,
            **options,
        )

    try:
        application = create_app(settings, vault=vault, oauth=oauth, demo=demo)
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")
    if workers > 1:
        # Built here once to refuse a wrong configuration clearly, then again in each worker
        # process, which shares nothing with this one but the listening socket.
        vault.close()
        serve_workers(bounded(f"{__name__}:service_worker_app", factory=True), workers)
        return
    config = bounded(application)
    server = uvicorn.Server(config)
    # Deliveries queued before a restart go out now; new events as soon as they are queued.
    webhooks = application.state.context.webhooks
    if webhooks is not None:
        webhooks.start()
    try:
        server.run()
    finally:
        if webhooks is not None:
            webhooks.close()
        vault.close()


def service_worker_app() -> ASGIApp:
    """The app of one ``serve --workers N`` process: uvicorn's supervisor spawns the process,
    which imports and calls this. Settings come from the environment (and ``.env``), as they
    did for the parent; queued webhooks go out from every worker (each delivery is claimed by
    one sender: the outbox's lease)."""
    # Imported here: FastAPI (the web extra) loads only for the commands that serve.
    from ..web import create_app

    setup_logging()
    settings = load_settings()
    application = create_app(
        settings, vault=open_vault(settings, upgrade=False), oauth=make_oauth(settings)
    )
    webhooks = application.state.context.webhooks
    if webhooks is not None:
        webhooks.start()  # a daemon thread: it ends with the process
    return application
