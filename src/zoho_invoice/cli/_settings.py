"""``zoho-invoice taxes list`` and ``currencies list``: the ids a person needs to write an invoice
in a VAT or GST organization (each line's ``tax_id``) or to bill a contact in another currency
(``currency_id``). Registered by ``_app``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._common import out
from ._connection_client import ConnectionOption, JsonOption, OrgOption, command_client, print_json

__all__ = ["currencies_app", "taxes_app"]

taxes_app = typer.Typer(
    help="Taxes and tax groups of a connected organization.", no_args_is_help=True
)
currencies_app = typer.Typer(help="Currencies of a connected organization.", no_args_is_help=True)


@taxes_app.command("list")
def taxes_list(
    ctx: typer.Context,
    connection: ConnectionOption,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """Every tax and tax group, with the id a line item names as its tax_id."""
    with command_client(ctx, connection, organization) as client:
        taxes = list(client.taxes.iter_all())
        groups = client.taxes.list_groups()
    listed = {t.tax_id for t in taxes}
    # A group Zoho lists apart (a tax_groups array) is shown like one listed among the taxes.
    extra = [g for g in groups if g.tax_group_id not in listed]
    if as_json:
        rows = [t.model_dump(mode="json") for t in taxes]
        rows += [
            {
                "tax_id": g.tax_group_id,
                "tax_name": g.tax_group_name,
                "tax_percentage": str(g.tax_group_percentage),
                "tax_type": "tax_group",
            }
            for g in extra
        ]
        print_json(rows, {"count": len(rows)})
        return
    table = Table("Name", "Rate %", "Type", "Id")
    for tax in taxes:
        rate = "" if tax.tax_percentage is None else f"{tax.tax_percentage:f}"
        table.add_row(tax.tax_name or "", rate, tax.tax_type or "", tax.tax_id)
    for group in extra:
        rate = "" if group.tax_group_percentage is None else f"{group.tax_group_percentage:f}"
        table.add_row(group.tax_group_name or "", rate, "tax_group", group.tax_group_id)
    out.print(table)


@currencies_app.command("list")
def currencies_list(
    ctx: typer.Context,
    connection: ConnectionOption,
    exclude_base: Annotated[
        bool, typer.Option("--exclude-base", help="Leave the base currency out.")
    ] = False,
    as_json: JsonOption = False,
    organization: OrgOption = None,
) -> None:
    """Every currency with its exchange rate to the base currency."""
    filters = {"filter_by": "Currencies.ExcludeBaseCurrency"} if exclude_base else {}
    with command_client(ctx, connection, organization) as client:
        currencies = list(client.currencies.iter_all(**filters))
    if as_json:
        print_json([c.model_dump(mode="json") for c in currencies], {"count": len(currencies)})
        return
    table = Table("Code", "Name", "Base", "Exchange rate", "Id")
    for currency in currencies:
        rate = "" if currency.exchange_rate is None else f"{currency.exchange_rate:f}"
        table.add_row(
            currency.currency_code or "",
            currency.currency_name or "",
            "yes" if currency.is_base_currency else "",
            rate,
            currency.currency_id,
        )
    out.print(table)
