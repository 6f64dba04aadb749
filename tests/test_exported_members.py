"""Unit test: the public surface is exactly ``__all__``, sorted, and every name is documented."""

from __future__ import annotations

import inspect

import zoho_invoice


def test_all_is_complete_without_duplicates() -> None:
    public = {name for name in dir(zoho_invoice) if not name.startswith("_")}
    # Subpackages imported as a side effect of re-exports are not part of the surface.
    modules = {name for name in public if inspect.ismodule(getattr(zoho_invoice, name))}
    assert len(set(zoho_invoice.__all__)) == len(zoho_invoice.__all__)  # ruff (RUF022) sorts it
    assert set(zoho_invoice.__all__) - {"__version__"} == public - modules


def test_every_exported_class_and_function_has_a_docstring() -> None:
    for name in zoho_invoice.__all__:
        member = getattr(zoho_invoice, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert inspect.getdoc(member), f"{name} has no docstring"


def test_errors_share_one_root() -> None:
    for name in zoho_invoice.__all__:
        member = getattr(zoho_invoice, name)
        if inspect.isclass(member) and issubclass(member, Exception):
            assert issubclass(member, zoho_invoice.ZohoError), name
