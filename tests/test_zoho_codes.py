"""Unit test: Zoho's codes and Accounts' error strings are named once, in
``zoho_invoice._zoho_codes``, and the client branches on the names: no ``code == 45`` or
``error == "invalid_code"`` left in the package, and no name there that nothing uses."""

from __future__ import annotations

import re
from pathlib import Path

import zoho_invoice._zoho_codes as codes

PACKAGE = Path(codes.__file__).resolve().parent
_NAMED = vars(codes).items()
_ACCOUNTS_ERRORS = sorted(
    {value for name, value in _NAMED if name.startswith("OAUTH_") and isinstance(value, str)}
    | set(codes.OAUTH_TRANSIENT_ERRORS)
)
#: A Zoho code (not an HTTP ``status_code``, not in a ``docstring``) compared with a number, or
#: one of Accounts' errors compared as a literal.
_MAGIC = re.compile(
    r"(?<![`\w])(?!status_)\w*code\b(?:\([^)]*\))?\s*(?:==|!=|in)\s*[\(\{\[]?\s*\d"
    + "".join(f'|[=!]=\\s*"{re.escape(value)}"' for value in _ACCOUNTS_ERRORS)
)


def _package_sources() -> dict[Path, str]:
    return {
        path: path.read_text("utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_zoho_codes.py" and "migrations" not in path.parts
    }


def test_the_client_compares_zoho_codes_by_name() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{lineno}: {line.strip()}"
        for path, text in _package_sources().items()
        for lineno, line in enumerate(text.splitlines(), 1)
        if _MAGIC.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "name the code in zoho_invoice/_zoho_codes.py:\n" + "\n".join(found)


def test_every_named_code_is_used() -> None:
    names = [name for name in vars(codes) if name.isupper()]
    assert names
    everything = "\n".join(_package_sources().values())
    own = Path(codes.__file__).read_text("utf-8")
    unused = [
        name
        for name in names
        # Used by the package, or by another constant of the module (a set of codes).
        if not re.search(rf"\b{name}\b", everything) and len(re.findall(rf"\b{name}\b", own)) < 2
    ]
    assert not unused, f"unused Zoho codes (drop them): {unused}"
