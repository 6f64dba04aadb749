"""Helpers for the CLI's tests: ``from cli_support import SandboxRunner``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer.testing import CliRunner, Result

from zoho_invoice.api import ZohoInvoice


class SandboxRunner(CliRunner):
    """A ``CliRunner`` whose commands get their clients from ``factory`` (a function of the
    connection id and organization id), given to every invocation as its ``obj``: the CLI's
    seam for a client wired to the sandbox, instead of rewriting a module's global."""

    def __init__(self, factory: Callable[[str, str | None], ZohoInvoice], **options: Any) -> None:
        super().__init__(**options)
        self.factory = factory

    def invoke(self, *args: Any, **extra: Any) -> Result:
        extra.setdefault("obj", self.factory)
        return super().invoke(*args, **extra)
