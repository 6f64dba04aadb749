"""The Typer application behind ``zoho-invoice``: the service, the worker, the database, keys
and connections here; the other command groups come from their modules (``_invoices``,
``_contacts``, ``_settings``, ``_login``, ``_sandbox``, ``_demo``), which share ``_common``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from .._exceptions import ConfigurationError, ZohoError
from .._serving import (
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_IP,
)
from ..tokens import (
    TokenManager,
    WorkerPolicy,
    WorkerVault,
    event_sink_from_settings,
    process_revocations,
    refresh_due,
    webhook_deliverer_from_settings,
)
from ..vault import KeyRing
from ._common import (
    HostOption,
    PortOption,
    err,
    fail,
    load_settings,
    make_oauth,
    open_vault,
    out,
    require_webhook,
    run_service,
    setup_logging,
)
from ._contacts import contacts_app
from ._demo import demo
from ._invoices import invoices_app
from ._login import login_command
from ._sandbox import sandbox_app
from ._settings import currencies_app, taxes_app
from ._sync import disconnect_command, sync_app, worker_sync_rounds

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
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(sync_app, name="sync")
connections_app.command("disconnect")(disconnect_command)
app.command()(demo)


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    max_connections: Annotated[
        int, typer.Option(min=2, help="Connections at once; more are answered 503.")
    ] = MAX_CONNECTIONS,
    max_connections_per_ip: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Connections at once from one client address (default: all of "
            "--max-connections, as behind a reverse proxy every connection comes from the "
            f"proxy). Facing clients directly, set it lower (e.g. {MAX_CONNECTIONS_PER_IP}), so "
            "slow bodies from one address cannot hold every connection.",
        ),
    ] = None,
    header_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a client has to send a request's headers.")
    ] = HEADER_TIMEOUT,
    keep_alive: Annotated[
        int, typer.Option(min=1, help="Seconds an idle kept-alive connection stays open.")
    ] = KEEP_ALIVE_TIMEOUT,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the port, e.g. one per core. Each holds the connection "
            "limits above on its own (N workers: up to N times --max-connections in all).",
        ),
    ] = 1,
) -> None:
    """Run the service (browser routes and JSON API); upgrades an empty database first."""
    setup_logging()
    settings = load_settings()
    # Imported here: FastAPI (the web extra) loads only for the commands that serve.
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
        max_connections_per_ip=max_connections_per_ip or max_connections,
        header_timeout=header_timeout,
        keep_alive=keep_alive,
        workers=workers,
    )


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
        bool,
        typer.Option(
            help="Keep in-use connections' tokens fresh and probe idle ones (see the options "
            "below)."
        ),
    ] = True,
    in_use_window: Annotated[
        float | None,
        typer.Option(
            min=60.0,
            help="Seconds after a caller last had a token that a connection counts as in use "
            "and is kept warm [default: ZOHO_IN_USE_WINDOW, 7200].",
        ),
    ] = None,
    idle_probe_interval: Annotated[
        float | None,
        typer.Option(
            min=60.0,
            help="Seconds between probes (one refresh) of an idle connection, to find dead "
            "ones early [default: ZOHO_IDLE_PROBE_INTERVAL, 86400].",
        ),
    ] = None,
    probes_per_cycle: Annotated[
        int, typer.Option(min=0, help="Idle connections probed at most per round.")
    ] = WorkerPolicy.probes_per_cycle,
    sync_every: Annotated[
        str | None,
        typer.Option(
            help="Keep every active connection's mirror current: sync each at most this often "
            "(15m, 1h), and whatever a Zoho workflow webhook asked for. Off by default."
        ),
    ] = None,
) -> None:
    """Background work: keep the tokens of connections in use fresh, probe idle connections
    once a day to find dead ones early, send queued revocations and webhooks, purge expired
    connect sessions. Run one or several."""
    setup_logging()
    settings = load_settings()
    require_webhook(settings)
    vault = open_vault(settings, upgrade=False)
    oauth = make_oauth(settings)
    policy = WorkerPolicy(
        in_use_window=in_use_window or settings.in_use_window,
        idle_probe_interval=idle_probe_interval or settings.idle_probe_interval,
        probes_per_cycle=probes_per_cycle,
    )
    # In-use tokens that would lapse before the next round are refreshed in this one. The
    # worker's own refreshes are not use (WorkerVault), so an idle connection stays idle.
    manager = TokenManager.from_settings(
        settings,
        vault=WorkerVault.view(vault),
        oauth=oauth,
        events=event_sink_from_settings(settings, vault),
        leeway=settings.refresh_leeway + interval,
    )
    webhooks = webhook_deliverer_from_settings(settings, vault)
    syncs = worker_sync_rounds(
        settings, vault, oauth, every=sync_every, events=event_sink_from_settings(settings, vault)
    )
    log = logging.getLogger("zoho_invoice.worker")
    try:
        while True:
            try:
                refreshed = (
                    refresh_due(manager, vault.refresh_schedule, policy=policy) if refresh else None
                )
                done = process_revocations(vault, oauth)
                # After the refreshes: a needs_reauth they found goes out in this round.
                delivered = webhooks.deliver_due() if webhooks is not None else "no webhooks"
                purged = vault.purge_expired()
                purged += vault.webhook_outbox.purge_dead(time.time() - DEAD_WEBHOOK_RETENTION)
                if syncs is not None:
                    log.info("worker round: %d mirror sync(s)", len(syncs.round()))
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
        rows = [c.to_json() for c in connections]
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


def main() -> None:
    """Console entry point."""
    app()
