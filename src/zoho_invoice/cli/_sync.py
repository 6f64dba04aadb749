"""``zoho-invoice sync``: bring a connection's mirror up to date from a terminal, with a Rich
progress display; ``sync webhook-url``: the secret URL a Zoho workflow rule calls; and
``connections disconnect [--purge]``.

The mirror comes from the invocation's ``obj`` when it is a :class:`SyncServices` (how a test
wires the commands to the sandbox: ``CliRunner().invoke(app, args, obj=services)``), else from
the settings (the vault, a ``TokenManager``, the shared request budget and quota blocks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from .._exceptions import APIError, ConnectionNotFoundError, DailyQuotaExceeded, ZohoError
from ..api import ZohoInvoice, budget_from_settings, quota_blocks_from_settings
from ..mirror import RESOURCES, Mirror, ResourceName, SyncProgress, SyncReport, SyncShareBudget
from ..mirror._sync_rounds import SyncRounds, parse_interval
from ..oauth import OAuthClient
from ..settings import Settings
from ..tokens import ConnectionEvent, EventSink, TokenManager, event_sink_from_settings
from ..vault import Vault
from ..vault._sync_triggers import SyncTriggers
from ._common import err, fail, load_settings, make_oauth, open_vault, out

__all__ = ["SyncServices", "disconnect_command", "sync_app", "worker_sync_rounds"]

sync_app = typer.Typer(
    help="The mirror: a connection's Zoho data in the app's database.",
    invoke_without_command=True,
    no_args_is_help=False,
)

ConnectionOption = Annotated[
    str | None, typer.Option("--connection", "-c", help="Id of the stored connection.")
]


@dataclass
class SyncServices:
    """What the sync commands work with: the vault, the mirror, the trigger URLs, where events
    go and the service's public URL (the trigger URL is shown under it)."""

    vault: Vault
    mirror: Mirror
    triggers: SyncTriggers
    public_url: str
    events: EventSink | None = None


def mirror_from_settings(settings: Settings, vault: Vault, manager: TokenManager) -> Mirror:
    """The mirror of the settings: each sync's client takes the sync's share of the
    organization's budget, on the budget and quota blocks the service and every worker share
    (rule 4)."""
    # One share for every sync of this process: the share is a sliding window (its calls may
    # go at once), so a new one per sync would forget the minute before.
    budget = SyncShareBudget(budget_from_settings(settings))
    blocks = quota_blocks_from_settings(settings, vault)

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice.for_connection(
            manager,
            connection_id,
            organization_id,
            budget=budget,
            quota_blocks=blocks,
        )

    return Mirror(vault, manager, client_factory=client)


def worker_sync_rounds(
    settings: Settings,
    vault: Vault,
    oauth: OAuthClient,
    *,
    every: str | None,
    events: EventSink | None,
) -> SyncRounds | None:
    """``zoho-invoice worker --sync-every 15m``: every active connection's mirror synced at
    most that often, and whatever a workflow webhook asked for; ``None`` when ``every`` is.
    A sync is use of the connection, so its manager is the plain one (not the worker's view)."""
    if every is None:
        return None
    try:
        seconds = parse_interval(every)
    except ValueError as exc:
        fail(f"--sync-every: {exc}")
    manager = TokenManager.from_settings(settings, vault=vault, oauth=oauth, events=events)
    return SyncRounds(
        mirror_from_settings(settings, vault, manager),
        vault,
        every=seconds,
        triggers=vault.sync_triggers,
        events=events,
    )


@contextmanager
def _services(ctx: typer.Context) -> Iterator[SyncServices]:
    if isinstance(ctx.obj, SyncServices):
        yield ctx.obj
        return
    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    try:
        manager = TokenManager.from_settings(settings, vault=vault, oauth=make_oauth(settings))
        yield SyncServices(
            vault=vault,
            mirror=mirror_from_settings(settings, vault, manager),
            triggers=vault.sync_triggers,
            public_url=settings.public_url,
            events=event_sink_from_settings(settings, vault),
        )
    finally:
        vault.close()


def _resources(names: list[str] | None) -> list[ResourceName] | None:
    if not names:
        return None
    chosen: list[ResourceName] = []
    for name in names:
        found = next((r for r in RESOURCES if r == name.strip().lower()), None)
        if found is None:
            fail(f"unknown resource {name!r}; choose from: {', '.join(RESOURCES)}")
        chosen.append(found)
    return chosen


class _Display:
    """A Rich progress bar per (resource, phase), moved by the mirror's progress callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, step: SyncProgress) -> None:
        key = (step.resource, step.phase)
        task = self.tasks.get(key)
        label = f"{step.resource} ({step.phase})"
        if task is None:
            task = self.progress.add_task(label, total=step.total)
            self.tasks[key] = task
        self.progress.update(task, completed=step.done, total=step.total)


def _print_report(report: SyncReport) -> None:
    table = Table("resource", "added", "updated", "deleted", "calls", "backlog", "current")
    for r in report.resources:
        table.add_row(
            r.resource,
            str(r.added),
            str(r.updated),
            str(r.deleted),
            str(r.calls),
            str(r.backlog),
            "yes" if r.complete else "no",
        )
    out.print(table)
    out.print(
        f"{report.outcome}: {report.added} added, {report.updated} updated, "
        f"{report.deleted} deleted in {report.calls} calls",
        highlight=False,
    )
    for r in report.resources:
        if r.error is None:
            continue
        why = (
            f"the connection's grant lacks {r.missing_scope}: connect again to grant it"
            if r.missing_scope
            else r.error
        )
        err.print(f"{r.resource} not synced: {why}", highlight=False, soft_wrap=True)
    if report.outcome == "quota_exhausted":
        when = f"{report.resumes_at:%Y-%m-%d %H:%M} UTC" if report.resumes_at else "the reset"
        out.print(
            f"stopped at the sync's share of the daily quota; run again after {when}: it "
            "resumes from its checkpoint",
            highlight=False,
        )


@sync_app.callback()
def sync(
    ctx: typer.Context,
    connection: ConnectionOption = None,
    resource: Annotated[
        list[str] | None,
        typer.Option(
            "--resource", "-r", help=f"Only these (repeat the option): {', '.join(RESOURCES)}."
        ),
    ] = None,
    full: Annotated[bool, typer.Option(help="Read every list again (not only changes).")] = False,
    reconcile: Annotated[
        bool, typer.Option(help="Also find records deleted in Zoho (ids of every page).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Bring the mirror of a connection up to date (incremental unless --full)."""
    if ctx.invoked_subcommand is not None:
        return
    if connection is None:
        fail("--connection is required (zoho-invoice connections list shows the ids)")
    chosen = _resources(resource)
    with _services(ctx) as services:
        rounds = SyncRounds(services.mirror, services.vault, every=None, events=services.events)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        try:
            with Progress(*columns, console=err, transient=True, disable=as_json) as progress:
                report = rounds.run(
                    connection,
                    resources=chosen,
                    full=full,
                    reconcile=reconcile,
                    progress=_Display(progress),
                )
        except ConnectionNotFoundError:
            fail(f"no connection {connection!r} (zoho-invoice connections list shows the ids)")
        except DailyQuotaExceeded as exc:
            fail(f"{exc}; the sync resumes from its checkpoint after the reset")
        except (APIError, ZohoError) as exc:
            fail(f"sync failed ({type(exc).__name__}): {exc}; what was done is kept")
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if report.outcome == "already_running":
        err.print("a sync of this connection is already running; nothing done", highlight=False)
        raise typer.Exit(1)


@sync_app.command("webhook-url")
def webhook_url(
    ctx: typer.Context,
    connection: ConnectionOption = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Forget the URL instead (Zoho's calls get 404).")
    ] = False,
) -> None:
    """Make the connection's secret URL for a Zoho workflow rule (shown once; the previous URL
    stops working). Paste it as the webhook of a rule: Settings > Automation > Workflow Rules."""
    connection = connection or (ctx.parent.params.get("connection") if ctx.parent else None)
    if connection is None:
        fail("--connection is required")
    with _services(ctx) as services:
        try:
            services.vault.get_connection(connection)
        except ConnectionNotFoundError:
            fail(f"no connection {connection!r}")
        if revoke:
            done = services.triggers.revoke(connection)
            out.print("URL forgotten" if done else "the connection had no URL", highlight=False)
            return
        token = services.triggers.issue(connection)
        url = f"{services.public_url.rstrip('/')}/zoho/webhooks/{token}"
    typer.echo(url)
    err.print(
        "Shown once: keep it secret. In Zoho Invoice: Settings > Automation > Workflow Rules > "
        "New Rule; Execute When 'Created or Edited'; action Webhook, method POST, this URL. "
        "Each call starts a sync of this connection within a minute.",
        highlight=False,
        soft_wrap=True,
    )


def disconnect_command(
    ctx: typer.Context,
    connection_id: Annotated[str, typer.Argument(help="Id of the stored connection.")],
    purge: Annotated[
        bool,
        typer.Option(help="Also delete the connection's mirror (else kept, marked disconnected)."),
    ] = False,
) -> None:
    """Forget a connection's tokens now (they are revoked at Zoho by the worker) and its
    trigger URL; with --purge, its mirrored data too."""
    with _services(ctx) as services:
        try:
            revoked = services.vault.disconnect(connection_id)
        except ConnectionNotFoundError:
            fail(f"no connection {connection_id!r}")
        services.triggers.revoke(connection_id)
        removed = services.mirror.purge(connection_id) if purge else None
        if services.events is not None:
            services.events(
                ConnectionEvent(
                    type="connection.revoked",
                    connection_id=revoked.id,
                    owner=revoked.owner,
                    at=revoked.updated_at,
                    reason="disconnected",
                )
            )
    kept = (
        f"; its mirror was purged ({removed} rows)"
        if removed is not None
        else "; its mirror is kept (the connection shows as revoked): --purge deletes it"
    )
    out.print(f"disconnected {connection_id}{kept}", highlight=False)
