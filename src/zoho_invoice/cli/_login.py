"""``zoho-invoice login``: connect a Zoho account from a terminal.

The command serves the same connect flow as the service (state bound to the browser, PKCE, the
data-centre checks) on a loopback address for as long as the login takes, opens the browser at
the connect URL, and stops once the connection is stored. Zoho needs the loopback callback
registered as a redirect URI of the client (``http://127.0.0.1:8765/callback`` by default).
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import uvicorn
from pydantic import SecretStr

from .._exceptions import DataCenterError, ZohoError
from .._serving import server_config
from ..datacenters import DataCenterTable
from ..oauth import OAuthClient
from ..settings import Settings
from ..tokens import ConnectionEvent, WebhookDispatcher, webhooks_from_settings
from ..vault import Vault
from ._common import fail, load_settings, out, setup_logging

__all__ = ["LoginResult", "loopback_redirect", "run_login"]

DEFAULT_LOGIN_PORT = 8765


@dataclass(frozen=True)
class LoginResult:
    connection_id: str
    owner: str
    reconnected: bool


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_redirect(settings: Settings, port: int | None) -> tuple[str, int]:
    """The redirect URI and port for a terminal login.

    ``ZOHO_REDIRECT_URI`` is used when it already points at a loopback address (its port wins);
    otherwise ``http://127.0.0.1:<port>/callback``.
    """
    if settings.redirect_uri:
        parts = urlsplit(settings.redirect_uri)
        if parts.scheme == "http" and _is_loopback(parts.hostname):
            return settings.redirect_uri, parts.port or 80
    chosen = port or DEFAULT_LOGIN_PORT
    return f"http://127.0.0.1:{chosen}/callback", chosen


def run_login(
    settings: Settings,
    *,
    owner: str,
    location: str | None = None,
    port: int | None = None,
    timeout: float = 600.0,
    on_connect_url: Callable[[str], None] | None = None,
    open_browser: bool = True,
) -> LoginResult:
    """Serve the connect flow on loopback until ``owner``'s connection is stored.

    Raises ``TimeoutError`` when nobody finished the flow within ``timeout`` seconds.
    """
    # Imported here: FastAPI (the web extra) loads only for the commands that serve.
    from ..web import create_app

    table = DataCenterTable.from_settings(settings.datacenters)
    if location is not None and location not in table:
        # Before anything is started or stored: a bad --location is the user's typo.
        raise DataCenterError(
            f"unknown data-centre location {location[:16]!r}; use one of "
            f"{', '.join(table.locations)}"
        )
    redirect_uri, port = loopback_redirect(settings, port)
    parts = urlsplit(redirect_uri)
    host = parts.hostname or "127.0.0.1"
    public_url = f"http://{parts.netloc}"
    local = settings.model_copy(
        update={
            "redirect_uri": redirect_uri,
            "public_url": public_url,
            # The JSON API is not used here, but the app insists on a key.
            "api_key": SecretStr(secrets.token_urlsafe(32)),
        }
    )
    settings.require_webhook()  # a bad webhook setting stops the login before anything runs
    vault = Vault.from_settings(local, upgrade=True)
    done = threading.Event()
    result: list[LoginResult] = []
    webhooks: WebhookDispatcher | None = None

    def on_event(event: ConnectionEvent) -> None:
        forward(event)
        if event.owner == owner and event.type in ("connection.created", "connection.reconnected"):
            result.append(
                LoginResult(event.connection_id, owner, event.type == "connection.reconnected")
            )
            done.set()

    try:
        # The event is queued in the outbox and sent at once; the worker retries it if needed.
        forward, webhooks = webhooks_from_settings(settings, vault)
        app = create_app(
            local, vault=vault, oauth=OAuthClient.from_settings(local), events=on_event
        )
        # Loopback only, but a local process could still pile up connections (SECURITY 51).
        server = uvicorn.Server(
            server_config(app, host=host, port=port, log_level="warning", log_config=None)
        )
        thread = threading.Thread(target=server.run, name="zoho-login", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"cannot listen on {host}:{port} (is another login running?)")
            time.sleep(0.02)
        try:
            token, _ = vault.create_connect_session(
                owner=owner, location=location, ttl=min(timeout, 600.0)
            )
            connect_url = f"{public_url}/connect/{token}"
            if on_connect_url is not None:
                on_connect_url(connect_url)
            if open_browser:
                webbrowser.open(connect_url)
            if not done.wait(timeout):
                raise TimeoutError(f"nobody finished the login within {timeout:.0f} seconds")
            # Let the browser receive the "connected" page before the server goes away.
            time.sleep(0.2)
        finally:
            server.should_exit = True
            thread.join(timeout=5)
    finally:
        if webhooks is not None:
            webhooks.close()
        vault.close()
    return result[0]


def login_command(
    owner: str = "cli",
    location: str | None = None,
    port: int | None = None,
    timeout: float = 600.0,
    open_browser: bool = True,
) -> None:
    """The body of ``zoho-invoice login`` (registered by the CLI app)."""
    setup_logging()
    settings = load_settings()
    if settings.encryption_keys is None:
        fail("ZOHO_ENCRYPTION_KEYS is not set; create one with `zoho-invoice keys generate`")

    def show(url: str) -> None:
        out.print(f"Open this link to connect Zoho Invoice:\n  {url}", highlight=False)

    try:
        result = run_login(
            settings,
            owner=owner,
            location=location,
            port=port,
            timeout=timeout,
            on_connect_url=show,
            open_browser=open_browser,
        )
    except (TimeoutError, OSError) as exc:
        fail(str(exc))
    except ZohoError as exc:
        fail(f"login failed: {exc}")
    verb = "reconnected" if result.reconnected else "connected"
    out.print(f"{verb}: connection {result.connection_id} (owner {result.owner})", highlight=False)
