"""The Typer application behind ``zoho-invoice``."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .._exceptions import ConfigurationError, KeyRingError, ZohoError
from ..settings import Settings

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

if find_spec("zoho_invoice.cli._invoices") is not None:  # another part of the CLI, when present
    _invoices = import_module("zoho_invoice.cli._invoices")
    app.add_typer(_invoices.invoices_app, name="invoices")
    app.add_typer(_invoices.contacts_app, name="contacts")

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
            settings.data_dir.mkdir(parents=True, exist_ok=True)
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


def run_service(settings: Settings, *, host: str, port: int, demo: bool = False) -> None:
    """Build the app from ``settings`` and serve it with uvicorn until interrupted."""
    import uvicorn

    from ..web import create_app

    vault = open_vault(settings, upgrade=True)
    oauth = make_oauth(settings)
    try:
        application = create_app(settings, vault=vault, oauth=oauth, demo=demo)
    except ConfigurationError as exc:
        fail(f"refusing to start: {exc}")
    config = uvicorn.Config(
        application, host=host, port=port, log_config=None, access_log=True, server_header=False
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        vault.close()


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Run the service (browser routes and JSON API); upgrades an empty database first."""
    setup_logging()
    settings = load_settings()
    if settings.api_key is None or not settings.api_key.get_secret_value():
        fail("ZOHO_API_KEY is not set: the JSON API needs it (any long random string)")
    run_service(settings, host=host, port=port)


@app.command()
def sandbox(
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
    """Run the Zoho sandbox: Zoho Accounts for every data centre and the Invoice API."""
    setup_logging()
    from ..sandbox import serve_sandbox

    try:
        serve_sandbox(host=host, port=port, data_dir=data_dir, datacenters_out=datacenters_out)
    except OSError as exc:
        fail(f"cannot start the sandbox on {host}:{port}: {exc.strerror or exc}")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Do one round and exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between rounds.")] = 10.0,
) -> None:
    """Background work: send queued revocations, purge expired connect transactions."""
    setup_logging()
    from ..tokens import process_revocations

    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    oauth = make_oauth(settings)
    log = logging.getLogger("zoho_invoice.worker")
    try:
        while True:
            try:
                done = process_revocations(vault, oauth)
                purged = vault.purge_expired()
                log.info(
                    "worker round: revocations %s, expired transactions purged %s", done, purged
                )
            except ZohoError as exc:
                log.warning("worker round failed (%s); next round retries", type(exc).__name__)
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        vault.close()


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
def _sandbox_thread(port: int) -> Iterator[str]:
    """The sandbox served by uvicorn in a thread on 127.0.0.1; yields its base URL."""
    import threading

    import uvicorn

    from ..sandbox import create_sandbox_app

    base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        create_sandbox_app(base_url=base_url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=None,
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
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def _demo_secrets(folder: Path) -> dict[str, str]:
    """The demo's keys, generated once and reused on the next run."""
    import secrets as _secrets

    from ..vault import KeyRing

    path = folder / "demo.json"
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and all(
                isinstance(data.get(k), str)
                for k in ("encryption_keys", "api_key", "client_secret")
            ):
                return {str(k): str(v) for k, v in data.items()}
        except (OSError, json.JSONDecodeError):
            pass
        fail(f"{path} is damaged; delete the folder {folder} to start the demo afresh")
    data = {
        "encryption_keys": KeyRing.generate_entry(),
        "api_key": _secrets.token_urlsafe(32),
        "client_id": "1000.DEMOCLIENT",
        "client_secret": _secrets.token_hex(20),
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return data


@app.command()
def demo(
    port: PortOption = 8000,
    sandbox_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Sandbox port (0: any free port).")
    ] = 0,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        ".zoho-invoice"
    ),
) -> None:
    """Run the whole product locally: the sandbox plus the service with a demo dashboard."""
    setup_logging(logging.WARNING)
    from .._http import httpx  # noqa: F401  (fail early if the HTTP stack is missing)

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {data_dir}: {exc.strerror}")
    keys = _demo_secrets(data_dir)
    if sandbox_port == 0:
        sandbox_port = _free_port()
    public_url = f"http://127.0.0.1:{port}"
    with _sandbox_thread(sandbox_port) as sandbox_url:
        from ..sandbox import datacenters_table

        dc_file = data_dir / "datacenters.json"
        dc_file.write_text(json.dumps(datacenters_table(sandbox_url), indent=2), encoding="utf-8")
        settings = load_settings(
            client_id=keys.get("client_id", "1000.DEMOCLIENT"),
            client_secret=keys["client_secret"],
            redirect_uri=f"{public_url}/callback",
            encryption_keys=keys["encryption_keys"],
            api_key=keys["api_key"],
            datacenters=dc_file,
            data_dir=data_dir,
            public_url=public_url,
        )
        out.print(f"\n[bold]Zoho Invoice Connect demo[/]  dashboard: {public_url}/")
        out.print(f"  Zoho sandbox: {sandbox_url}", highlight=False)
        out.print(f"  JSON API key: {keys['api_key']}", highlight=False)
        out.print(f"  data folder:  {data_dir.resolve()}", highlight=False)
        out.print("  Press Ctrl-C to stop.\n", highlight=False)
        run_service(settings, host="127.0.0.1", port=port, demo=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Console entry point."""
    app()
