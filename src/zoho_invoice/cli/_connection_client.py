"""A command on a stored connection: the options it takes (``--connection``, ``--organization``,
paging, ``--json``) and the API client it works with.

The client's tokens come from the vault through the ``TokenManager``, so they refresh by
themselves; a test hands its own :data:`ClientFactory` as the invocation's ``obj``. Zoho's
errors end the command with one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from .._exceptions import APIError, DailyQuotaExceeded, ZohoError
from ..api import ZohoInvoice, budget_from_settings, quota_blocks_from_settings
from ..api._constants import MAX_PER_PAGE
from ..tokens import TokenManager
from ._common import fail, load_settings, make_oauth, open_vault, out

__all__ = [
    "ClientFactory",
    "ConnectionOption",
    "JsonOption",
    "OrgOption",
    "PageOption",
    "PerPageOption",
    "command_client",
    "print_json",
]

ConnectionOption = Annotated[
    str, typer.Option("--connection", "-c", help="Id of the stored connection to use.")
]
OrgOption = Annotated[
    str | None,
    typer.Option("--organization", help="Organization id (default: the connection's)."),
]
PageOption = Annotated[int, typer.Option(min=1, help="Page number, from 1.")]
PerPageOption = Annotated[int, typer.Option(min=1, max=MAX_PER_PAGE, help="Items per page.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

#: Builds the client a command uses, from its connection id and organization id.
ClientFactory = Callable[[str, str | None], ZohoInvoice]


def _connect(connection_id: str, organization_id: str | None) -> ZohoInvoice:
    """A client on a stored connection, built from the settings (environment)."""
    settings = load_settings()
    vault = open_vault(settings, upgrade=False)
    manager = TokenManager.from_settings(settings, vault=vault, oauth=make_oauth(settings))
    # The budget and the daily-quota blocks every worker and the service share (Redis, else the
    # vault's database): a 45 met by the service stops this command too, before it sends.
    return ZohoInvoice.for_connection(
        manager,
        connection_id,
        organization_id=organization_id,
        budget=budget_from_settings(settings),
        quota_blocks=quota_blocks_from_settings(settings, vault),
    )


@contextmanager
def command_client(
    ctx: typer.Context, connection_id: str, organization_id: str | None
) -> Iterator[ZohoInvoice]:
    """The command's client: from the invocation's own :data:`ClientFactory` when one was given
    as its ``obj`` (how a test wires the commands to the sandbox:
    ``CliRunner().invoke(app, args, obj=factory)``), else on the stored connection."""
    factory: ClientFactory = ctx.obj if callable(ctx.obj) else _connect
    try:
        with factory(connection_id, organization_id) as client:
            yield client
    except DailyQuotaExceeded as exc:
        when = f"{exc.resets_at:%Y-%m-%d %H:%M} UTC" if exc.resets_at else "Zoho's daily reset"
        fail(f"{exc}. The organization's daily API quota is renewed at {when}; try again then.")
    except APIError as exc:
        fail(str(exc))
    except ZohoError as exc:
        fail(f"{type(exc).__name__}: {exc}")


def print_json(rows: list[dict[str, Any]], page_context: dict[str, Any]) -> None:
    """One page as ``--json`` prints it: its items and Zoho's page context."""
    text = json.dumps({"items": rows, "page_context": page_context}, default=str, indent=2)
    out.print_json(text)
