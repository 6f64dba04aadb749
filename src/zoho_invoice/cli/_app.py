"""The Typer application behind ``zoho-invoice``."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .._exceptions import ConfigurationError, KeyRingError, ZohoError
from .._files import ensure_private_dir, ensure_private_file, write_private_text
from .._serving import HEADER_TIMEOUT, KEEP_ALIVE_TIMEOUT, MAX_CONNECTIONS
from ..settings import Settings
from ._invoices import contacts_app, invoices_app
from ._login import login_command
from ._settings import currencies_app, taxes_app

if TYPE_CHECKING:
    from ..oauth import OAuthClient
    from ..vault import Vault

app = typer.Typer(
    name="zoho-invoice",
    help="Connect your users' Zoho Invoice accounts: the service, the sandbox, the demo and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys (ZOHO_ENCRYPTION_KEYS).", no_args_is_help=True)
connections_app = typer.Typer(help="Stored connections.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(connections_app, name="connections")

app.add_typer(invoices_app, name="invoices")
app.add_typer(contacts_app, name="contacts")
app.add_typer(taxes_app, name="taxes")
app.add_typer(currencies_app, name="currencies")

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
    from .._redact import RedactingFilter

    root = logging.getLogger()
    if not any(getattr(h, "_zoho_invoice", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        handler._zoho_invoice = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"ZOHO_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid settings: {problems}")


def open_vault(settings: Settings, *, upgrade: bool = True) -> Vault:
    """The vault, or a clear refusal when the keys or the database are wrong (SECURITY 24)."""
    from ..vault import KeyRing, Vault

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
    from ..oauth import OAuthClient

    try:
        return OAuthClient.from_settings(settings)
    except ConfigurationError as exc:
        fail(str(exc))


def run_service(
    settings: Settings, *, host: str, port: int, demo: bool = False, **bounds: Any
) -> None:
    """Build the app from ``settings`` and serve it with uvicorn until interrupted.

    ``bounds`` (``max_connections``, ``header_timeout``, ``keep_alive``) go to
    ``_serving.server_config``: what one client may hold (SECURITY 51).
    """
    import uvicorn

    from .._serving import server_config
    from ..web import create_app

    require_webhook(settings)
    vault = open_vault(settings, upgrade=True)
    oauth = make_oauth(settings)
    try:
        application = create_app(settings, vault=vault, oauth=oauth, demo=demo)
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")
    config = server_config(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=True,
        server_header=False,
        **bounds,
    )
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


def require_webhook(settings: Settings) -> None:
    """Refuse to start with a webhook URL that lacks a strong secret or https (SECURITY 48)."""
    try:
        settings.require_webhook()
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    max_connections: Annotated[
        int, typer.Option(min=2, help="Connections at once; more are answered 503.")
    ] = MAX_CONNECTIONS,
    header_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a client has to send a request's headers.")
    ] = HEADER_TIMEOUT,
    keep_alive: Annotated[
        int, typer.Option(min=1, help="Seconds an idle kept-alive connection stays open.")
    ] = KEEP_ALIVE_TIMEOUT,
) -> None:
    """Run the service (browser routes and JSON API); upgrades an empty database first."""
    setup_logging()
    settings = load_settings()
    from ..web._api import require_api_key, require_metrics_key

    try:
        # Before the database is touched: a missing or guessable key stops the start-up.
        require_api_key(settings)
        require_metrics_key(settings)
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")
    run_service(
        settings,
        host=host,
        port=port,
        max_connections=max_connections,
        header_timeout=header_timeout,
        keep_alive=keep_alive,
    )


sandbox_app = typer.Typer(
    help="The Zoho sandbox: run it (Zoho Accounts and the Invoice API), or seed its data.",
    invoke_without_command=True,
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8090,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the sandbox's state in this folder.")
    ] = None,
    datacenters_out: Annotated[
        Path | None,
        typer.Option(help="Write the data-centre table (for ZOHO_DATACENTERS) to this file."),
    ] = None,
) -> None:
    """Run the Zoho sandbox: Zoho Accounts for every data centre and the Invoice API.

    Its control routes (/_sandbox/journal, faults, ...) need the header X-Sandbox-Key:
    $ZOHO_SANDBOX_CONTROL_KEY, or the key it prints when it starts.
    """
    if ctx.invoked_subcommand is not None:
        return
    setup_logging()
    from ..sandbox import serve_sandbox

    try:
        serve_sandbox(host=host, port=port, data_dir=data_dir, datacenters_out=datacenters_out)
    except OSError as exc:
        fail(f"cannot start the sandbox on {host}:{port}: {exc.strerror or exc}")


CountOption = Annotated[int, typer.Option(min=0, max=100_000)]


@sandbox_app.command("seed")
def sandbox_seed(
    organization: Annotated[
        str, typer.Option(help="The simulated organization's id, or `all` for every one.")
    ],
    data_dir: Annotated[
        Path | None, typer.Option(help="The sandbox's data folder (it may be running).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A running sandbox's base URL, e.g. http://127.0.0.1:8090.")
    ] = None,
    contacts: CountOption = 50,
    items: CountOption = 20,
    invoices: CountOption = 200,
    seed: Annotated[int, typer.Option(help="Same seed, same day: same data.")] = 0,
) -> None:
    """Fill sandbox organizations with contacts, items and invoices (with their payments)."""
    if (data_dir is None) == (url is None):
        fail("give exactly one of --data-dir (the sandbox's folder) or --url (a running sandbox)")
    counts = {"contacts": contacts, "items": items, "invoices": invoices, "seed": seed}
    results: list[dict[str, object]] = []
    if url is not None:
        from .._http import httpx
        from ..sandbox.invoice import InvoiceSandboxControl

        try:
            with httpx.Client(base_url=url.rstrip("/"), timeout=120) as http:
                control = InvoiceSandboxControl(http)
                if organization == "all":
                    users = http.get("/_sandbox/users")
                    users.raise_for_status()
                    org_ids = sorted(_organization_ids(users.json()))
                else:
                    org_ids = [organization]
                for org_id in org_ids:
                    results.append(control.seed(org_id, **counts).to_json())
        except httpx.HTTPStatusError as exc:
            fail(f"the sandbox refused: HTTP {exc.response.status_code} {exc.response.text[:200]}")
        except httpx.HTTPError as exc:
            fail(f"cannot reach the sandbox at {url}: {type(exc).__name__}")
    else:
        assert data_dir is not None
        try:
            results = seed_sandbox_folder(data_dir, organization, **counts)
        except LookupError as exc:
            fail(str(exc))
    for result in results:
        out.print(
            f"organization {result['organization_id']}: {result['contacts']} contacts, "
            f"{result['items']} items, {result['invoices']} invoices, "
            f"{result['payments']} payments",
            highlight=False,
        )


def _organization_ids(users: object) -> set[str]:
    """Organization ids in the control API's ``GET users`` answer."""
    found: set[str] = set()
    entries = users.get("users", []) if isinstance(users, dict) else users
    for user in entries if isinstance(entries, list) else []:
        if isinstance(user, dict):
            for org in user.get("organizations") or user.get("organization_ids") or []:
                org_id = org.get("organization_id") if isinstance(org, dict) else org
                if org_id:
                    found.add(str(org_id))
    return found


def seed_sandbox_folder(
    data_dir: Path,
    organization: str,
    *,
    contacts: int = 50,
    items: int = 20,
    invoices: int = 200,
    seed: int = 0,
) -> list[dict[str, object]]:
    """Seed organizations in the sandbox data folder ``data_dir`` (``all``: every one).

    A running sandbox on that folder sees the rows at once (the same SQLite file).
    ``LookupError`` names the known organizations when ``organization`` is not one of them.
    """
    from ..sandbox import SandboxWorld
    from ..sandbox.invoice import seed_organization

    ensure_private_dir(data_dir)
    world = SandboxWorld(base_url="http://127.0.0.1", data_dir=data_dir)
    try:
        known = [o.organization_id for o in world.directory.organizations]
        if organization == "all":
            org_ids = known
        elif organization in known:
            org_ids = [organization]
        else:
            raise LookupError(
                f"no simulated organization {organization!r}; known: {', '.join(known)} (or all)"
            )
        return [
            seed_organization(
                world, org_id, contacts=contacts, items=items, invoices=invoices, seed=seed
            ).to_json()
            for org_id in org_ids
        ]
    finally:
        world.close()


@app.command()
def login(
    owner: Annotated[str, typer.Option(help="Whose connection this is (your app's user).")] = "cli",
    location: Annotated[
        str | None, typer.Option(help="Start at this data centre ('cn' for China).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Loopback port (default: ZOHO_REDIRECT_URI's, or 8765)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for you.")] = 600.0,
    browser: Annotated[bool, typer.Option(help="Open the browser by itself.")] = True,
) -> None:
    """Connect a Zoho account from this terminal (the callback is served on loopback).

    Register ``http://127.0.0.1:8765/callback`` (or your port) as a redirect URI of the client.
    """
    login_command(owner=owner, location=location, port=port, timeout=timeout, open_browser=browser)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Do one round and exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between rounds.")] = 10.0,
    refresh: Annotated[
        bool, typer.Option(help="Refresh tokens that end before the next round.")
    ] = True,
) -> None:
    """Background work: refresh tokens ahead of expiry (finding dead connections early), send
    queued revocations and webhooks, purge expired connect transactions. Run one or several."""
    setup_logging()
    from ..tokens import (
        TokenManager,
        process_revocations,
        refresh_expiring,
        webhook_deliverer_from_settings,
    )

    settings = load_settings()
    require_webhook(settings)
    vault = open_vault(settings, upgrade=False)
    oauth = make_oauth(settings)
    # Tokens that would lapse before the next round are refreshed in this one.
    manager = TokenManager.from_settings(
        settings, vault=vault, oauth=oauth, leeway=settings.refresh_leeway + interval
    )
    webhooks = webhook_deliverer_from_settings(settings, vault)
    log = logging.getLogger("zoho_invoice.worker")
    try:
        while True:
            try:
                refreshed = refresh_expiring(manager, vault) if refresh else None
                done = process_revocations(vault, oauth)
                # After the refreshes: a needs_reauth they found goes out in this round.
                delivered = webhooks.deliver_due() if webhooks is not None else "no webhooks"
                purged = vault.purge_expired()
                purged += vault.webhook_outbox.purge_dead(time.time() - DEAD_WEBHOOK_RETENTION)
                log.info(
                    "worker round: %s; revocations %s; %s; purged %s",
                    refreshed,
                    done,
                    delivered,
                    purged,
                )
            except ZohoError as exc:
                log.warning("worker round failed (%s); next round retries", type(exc).__name__)
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if webhooks is not None:
            webhooks.close()
        vault.close()


#: Webhooks given up on stay in the outbox this long (seconds), for the operator to look at.
DEAD_WEBHOOK_RETENTION = 30 * 86400.0


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = load_settings()
    vault = open_vault(settings, upgrade=True)
    vault.close()
    out.print("database is up to date", highlight=False)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key entry; put it first in ZOHO_ENCRYPTION_KEYS.

    Standard output is the entry alone (``key_id:base64``), so it can be captured by a script.
    """
    from ..vault import KeyRing

    entry = KeyRing.generate_entry()
    typer.echo(entry)
    if sys.stderr.isatty():
        err.print(
            "Add it at the front of ZOHO_ENCRYPTION_KEYS (comma-separated), then run "
            "`zoho-invoice keys rotate` to re-seal old rows.",
            highlight=False,
        )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-seal every stored token under the first key of ZOHO_ENCRYPTION_KEYS."""
    settings = load_settings()
    vault = open_vault(settings, upgrade=True)
    try:
        with err.status("re-sealing stored values under the first key..."):
            count = vault.rotate_keys()
    except ZohoError as exc:
        fail(f"rotation failed, nothing lost (each row is re-sealed in place): {exc}")
    finally:
        vault.close()
    out.print(
        f"re-sealed {count} value(s) under the first key; older keys can now be removed",
        highlight=False,
    )


@connections_app.command("list")
def connections_list(
    owner: Annotated[str | None, typer.Option(help="Only this owner's connections.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stored connections (never their tokens)."""
    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    try:
        connections = vault.list_connections(owner=owner)
    finally:
        vault.close()
    if as_json:
        rows = [
            {
                "id": c.id,
                "owner": c.owner,
                "location": c.location,
                "api_domain": c.api_domain,
                "organization_id": c.organization_id,
                "scopes": list(c.scopes),
                "status": c.status,
                "created_at": c.created_at.isoformat(),
                "updated_at": c.updated_at.isoformat(),
            }
            for c in connections
        ]
        typer.echo(json.dumps({"connections": rows}, indent=2))
        return
    if not connections:
        out.print("no connections", highlight=False)
        return
    table = Table("id", "owner", "DC", "organization", "status", "created")
    for c in connections:
        table.add_row(
            str(c.id),
            c.owner,
            c.location,
            c.organization_id or "-",
            c.status,
            c.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


@contextmanager
def _sandbox_thread(port: int, data_dir: Path | None = None) -> Iterator[tuple[str, Any]]:
    """The sandbox served by uvicorn in a thread on 127.0.0.1; yields its base URL and world."""
    import os
    import secrets
    import threading

    import uvicorn

    from .._serving import server_config
    from ..sandbox import create_sandbox_app
    from ..sandbox._server import CONTROL_KEY_ENV

    base_url = f"http://127.0.0.1:{port}"
    # The demo needs no control route: unless ZOHO_SANDBOX_CONTROL_KEY names one (to look at
    # the journal), a key nobody holds keeps the journal's secrets unread.
    control_key = os.environ.get(CONTROL_KEY_ENV) or secrets.token_urlsafe(32)
    sandbox_app = create_sandbox_app(base_url=base_url, data_dir=data_dir, control_key=control_key)
    config = server_config(
        sandbox_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=None,
        access_log=False,  # the revoke URL carries a token
    )
    server = uvicorn.Server(config)
    # Outside the main thread uvicorn leaves signals alone: Ctrl-C stops the service's server,
    # and this one is stopped by should_exit.
    thread = threading.Thread(target=server.run, name="zoho-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            fail(f"the sandbox could not start on port {port}")
        time.sleep(0.05)
    try:
        yield base_url, sandbox_app.state.world
    finally:
        server.should_exit = True
        thread.join(timeout=5)


DEMO_SANDBOX_PORT = 8090
#: What the demo puts in every simulated organization on its first run.
DEMO_CONTACTS, DEMO_ITEMS, DEMO_INVOICES = 40, 15, 120


@dataclass
class DemoSetup:
    """The demo's folder, kept between runs: keys, the sandbox's port and data folder."""

    data_dir: Path
    secrets: dict[str, Any]
    sandbox_port: int
    sandbox_dir: Path

    @property
    def seeded(self) -> bool:
        return bool(self.secrets.get("seeded"))

    def mark_seeded(self) -> None:
        self.secrets["seeded"] = True
        _write_demo_json(self.data_dir / "demo.json", self.secrets)


def _write_demo_json(path: Path, data: dict[str, Any]) -> None:
    # Owner-only: the file holds the demo's keys.
    write_private_text(path, json.dumps(data, indent=2))


def prepare_demo(data_dir: Path, *, sandbox_port: int | None = None) -> DemoSetup:
    """Create or reopen the demo's folder.

    The first run generates the keys and picks the sandbox's port (``sandbox_port``, else 8090
    when free, else any free port) and stores them in ``demo.json``; later runs reuse them, so the
    stored connections (whose API domain names that port) keep working.
    """
    import secrets as _secrets

    from ..vault import KeyRing

    ensure_private_dir(data_dir)
    path = data_dir / "demo.json"
    data: dict[str, Any]
    if path.exists():
        ensure_private_file(path)  # a demo.json from an older version may be 0644
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            loaded = None
        if not isinstance(loaded, dict) or not all(
            isinstance(loaded.get(k), str) for k in ("encryption_keys", "api_key", "client_secret")
        ):
            fail(f"{path} is damaged; delete the folder {data_dir} to start the demo afresh")
        data = loaded
    else:
        data = {
            "encryption_keys": KeyRing.generate_entry(),
            "api_key": _secrets.token_urlsafe(32),
            "client_id": "1000.DEMOCLIENT",
            "client_secret": _secrets.token_hex(20),
        }
    stored = data.get("sandbox_port")
    if isinstance(stored, int) and 0 < stored < 65536:
        if sandbox_port and sandbox_port != stored:
            fail(
                f"this demo folder uses sandbox port {stored} (its connections point there); "
                f"drop --sandbox-port or use another --data-dir"
            )
        port = stored
    else:
        port = sandbox_port or (
            DEMO_SANDBOX_PORT if _port_is_free(DEMO_SANDBOX_PORT) else _free_port()
        )
        data["sandbox_port"] = port
    if not path.exists() or data.get("sandbox_port") != stored:
        _write_demo_json(path, data)
    return DemoSetup(
        data_dir=data_dir, secrets=data, sandbox_port=port, sandbox_dir=data_dir / "sandbox"
    )


def demo_settings(setup: DemoSetup, sandbox_url: str, public_url: str) -> Settings:
    """The service's settings in the demo: its stored keys, the sandbox's data-centre table."""
    from ..sandbox import datacenters_table

    keys = setup.secrets
    dc_file = setup.data_dir / "datacenters.json"
    write_private_text(dc_file, json.dumps(datacenters_table(sandbox_url), indent=2))
    return load_settings(
        client_id=str(keys.get("client_id", "1000.DEMOCLIENT")),
        client_secret=keys["client_secret"],
        redirect_uri=f"{public_url}/callback",
        encryption_keys=keys["encryption_keys"],
        api_key=keys["api_key"],
        datacenters=dc_file,
        data_dir=setup.data_dir,
        public_url=public_url,
    )


def seed_demo_world(world: Any) -> int:
    """Fill every simulated organization with contacts, items and invoices; returns invoices."""
    from ..sandbox.invoice import seed_organization

    total = 0
    for number, org in enumerate(world.directory.organizations):
        total += seed_organization(
            world,
            org.organization_id,
            contacts=DEMO_CONTACTS,
            items=DEMO_ITEMS,
            invoices=DEMO_INVOICES,
            seed=number,
        ).invoices
    return total


@app.command()
def demo(
    port: PortOption = 8000,
    sandbox_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Sandbox port on the first run (default 8090, or any free)."
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        ".zoho-invoice"
    ),
) -> None:
    """Run the whole product locally: the sandbox plus the service with a demo dashboard.

    A second run in the same folder finds the same connections, still working.
    """
    setup_logging(logging.WARNING)
    from .._http import httpx  # noqa: F401  (fail early if the HTTP stack is missing)

    try:
        ensure_private_dir(data_dir)
    except OSError as exc:
        fail(f"cannot create {data_dir}: {exc.strerror}")
    setup = prepare_demo(data_dir, sandbox_port=sandbox_port)
    keys = setup.secrets
    if not _port_is_free(setup.sandbox_port):
        fail(
            f"the demo's sandbox port {setup.sandbox_port} is in use (is another demo running?); "
            "stop it, or use another --data-dir"
        )
    public_url = f"http://127.0.0.1:{port}"
    ensure_private_dir(setup.sandbox_dir)
    with _sandbox_thread(setup.sandbox_port, setup.sandbox_dir) as (sandbox_url, world):
        if not setup.seeded:
            with err.status("filling the sandbox's organizations with invoices..."):
                seed_demo_world(world)
            setup.mark_seeded()
        settings = demo_settings(setup, sandbox_url, public_url)
        out.print(f"\n[bold]Zoho Invoice Connect demo[/]  dashboard: {public_url}/")
        out.print(f"  Zoho sandbox: {sandbox_url}", highlight=False)
        out.print(f"  JSON API key: {keys['api_key']}", highlight=False)
        out.print(f"  data folder:  {data_dir.resolve()}", highlight=False)
        out.print("  Press Ctrl-C to stop.\n", highlight=False)
        run_service(settings, host="127.0.0.1", port=port, demo=True)


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Console entry point."""
    app()
