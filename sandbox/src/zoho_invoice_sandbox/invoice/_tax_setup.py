"""The tax setup and currencies a new simulated organization starts with, by its base currency.

Zoho presets taxes by edition: the UK edition comes with VAT at a standard 20%, a reduced 5% and
a zero rate; India's GST is charged as CGST plus SGST within a state (a tax group) or IGST
across states; Australia's GST is 10% (docs/zoho/resources-core.md). The other rates are
plausible values for a sandbox, not a tax table anyone should file by.

``registered`` marks a VAT or GST organization: there every invoice line needs a tax (see the
``line_tax`` rule in ``_settings.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["CURRENCY_INFO", "PROFILES", "Profile", "TaxSeed", "profile_for", "usd_value"]


@dataclass(frozen=True, slots=True)
class TaxSeed:
    name: str
    percentage: str
    tax_type: str = "tax"
    specific_type: str = ""
    authority: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    registered: bool
    taxes: tuple[TaxSeed, ...]
    #: (group name, names of its taxes)
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Further currencies the organization bills in, besides its base currency.
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP")


PROFILES: dict[str, Profile] = {
    "GBP": Profile(
        True,
        (TaxSeed("Standard Rate", "20"), TaxSeed("Reduced Rate", "5"), TaxSeed("Zero Rate", "0")),
        currencies=("EUR", "USD"),
    ),
    "EUR": Profile(
        True,
        (TaxSeed("VAT 19%", "19"), TaxSeed("VAT 7%", "7"), TaxSeed("VAT 0%", "0")),
        currencies=("USD", "GBP", "CHF"),
    ),
    "INR": Profile(
        True,
        (
            TaxSeed("CGST9", "9", specific_type="cgst"),
            TaxSeed("SGST9", "9", specific_type="sgst"),
            TaxSeed("IGST18", "18", specific_type="igst"),
            TaxSeed("CGST2.5", "2.5", specific_type="cgst"),
            TaxSeed("SGST2.5", "2.5", specific_type="sgst"),
            TaxSeed("IGST5", "5", specific_type="igst"),
        ),
        groups=(("GST18", ("CGST9", "SGST9")), ("GST5", ("CGST2.5", "SGST2.5"))),
        currencies=("USD", "EUR"),
    ),
    "AUD": Profile(
        True, (TaxSeed("GST", "10"), TaxSeed("GST Free", "0")), currencies=("USD", "NZD")
    ),
    "SAR": Profile(True, (TaxSeed("VAT", "15"), TaxSeed("Zero Rate", "0")), currencies=("USD",)),
    "USD": Profile(
        False,
        (
            TaxSeed("State Sales Tax", "6.25", authority="State Department of Revenue"),
            TaxSeed("City Tax", "2.5", authority="City Finance Department"),
            TaxSeed("Luxury Surcharge", "1", tax_type="compound_tax"),
        ),
        groups=(("Combined Sales Tax", ("State Sales Tax", "City Tax")),),
        currencies=("EUR", "GBP", "CAD"),
    ),
    "CAD": Profile(
        False,
        (
            TaxSeed("GST", "5", authority="Canada Revenue Agency"),
            TaxSeed("PST", "7", authority="Ministry of Finance"),
        ),
        groups=(("GST + PST", ("GST", "PST")),),
        currencies=("USD",),
    ),
    "JPY": Profile(
        False, (TaxSeed("Consumption Tax", "10"), TaxSeed("Reduced Rate", "8")), currencies=("USD",)
    ),
    "CNY": Profile(False, (TaxSeed("VAT 13%", "13"), TaxSeed("VAT 6%", "6")), currencies=("USD",)),
}
_DEFAULT = Profile(False, (TaxSeed("Sales Tax", "10"),))

#: code → (name, symbol, value in US dollars)
CURRENCY_INFO: dict[str, tuple[str, str, str]] = {
    "USD": ("US Dollar", "$", "1"),
    "EUR": ("Euro", "€", "1.08"),
    "GBP": ("Pound Sterling", "£", "1.27"),
    "INR": ("Indian Rupee", "₹", "0.012"),
    "AUD": ("Australian Dollar", "$", "0.66"),
    "NZD": ("New Zealand Dollar", "$", "0.61"),
    "CAD": ("Canadian Dollar", "$", "0.74"),
    "CHF": ("Swiss Franc", "CHF", "1.13"),
    "SAR": ("Saudi Riyal", "﷼", "0.2666"),
    "JPY": ("Japanese Yen", "¥", "0.0067"),
    "CNY": ("Yuan Renminbi", "¥", "0.14"),
}


def profile_for(base_currency: str) -> Profile:
    return PROFILES.get(base_currency, _DEFAULT)


def usd_value(code: str) -> Decimal:
    return Decimal(CURRENCY_INFO.get(code, ("", "", "1"))[2])
