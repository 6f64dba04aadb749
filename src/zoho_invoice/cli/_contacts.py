"""``zoho-invoice contacts list``: one page of a connected organization's contacts, as a table
or as JSON (registered by ``_app``)."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import out
from ._connection_client import (
    ConnectionOption,
    JsonOption,
    OrgOption,
    PageOption,
    PerPageOption,
    command_client,
    print_json,
)

__all__ = ["contacts_app"]

contacts_app = typer.Typer(help="Contacts of a connected organization.", no_args_is_help=True)


@contacts_app.command("list")
def contacts_list(
    ctx: typer.Context,
    connection: ConnectionOption,
    page: PageOption = 1,
    per_page: PerPageOption = 25,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """List one page of contacts."""
    with command_client(ctx, connection, organization) as client:
        result = client.contacts.list(page=page, per_page=per_page)
    if as_json:
        rows = [contact.model_dump(mode="json") for contact in result.items]
        print_json(rows, result.page_context.model_dump())
        return
    table = Table("Name", "Company", "Type", "Status", "Email", "Id")
    for contact in result.items:
        table.add_row(
            contact.contact_name or "",
            contact.company_name or "",
            contact.contact_type or "",
            contact.status or "",
            contact.email or "",
            contact.contact_id,
        )
    out.print(table)
