"""Models of an organization's tax setup and currencies (``/settings/taxes``, ``/taxgroups``,
``/currencies``).

A line item in a VAT or GST organization names its tax by ``tax_id`` (a tax or a tax group); a
contact billed in another currency names it by ``currency_id``. Percentages and exchange rates
are exact ``Decimal`` values, like money.
"""

from __future__ import annotations

from pydantic import Field

from ._base import Money, ZohoDate, ZohoID, ZohoModel


class Tax(ZohoModel):
    """A tax, a compound tax (levied on top of the others), or a tax group as the list shows it.

    ``tax_type`` is ``"tax"``, ``"compound_tax"`` or ``"tax_group"``; India's editions say which
    GST a tax is in ``tax_specific_type`` (``cgst``, ``sgst``, ``igst`` …).
    """

    tax_id: ZohoID
    tax_name: str | None = None
    tax_percentage: Money = None
    tax_type: str | None = None
    tax_specific_type: str | None = None
    tax_authority_id: ZohoID | None = None
    tax_authority_name: str | None = None
    is_value_added: bool | None = None
    country_code: str | None = None


class TaxGroup(ZohoModel):
    """Two or more taxes charged together (at most one compound), usable as a line's ``tax_id``."""

    tax_group_id: ZohoID
    tax_group_name: str | None = None
    tax_group_percentage: Money = None
    taxes: list[Tax] = Field(default_factory=list)


class Currency(ZohoModel):
    """A currency the organization bills in; the base currency has ``is_base_currency``."""

    currency_id: ZohoID
    currency_code: str | None = None
    currency_name: str | None = None
    currency_symbol: str | None = None
    price_precision: int | None = None
    currency_format: str | None = None
    is_base_currency: bool | None = None
    #: Units of the base currency one unit of this currency is worth, from ``effective_date``.
    exchange_rate: Money = None
    effective_date: ZohoDate = None
