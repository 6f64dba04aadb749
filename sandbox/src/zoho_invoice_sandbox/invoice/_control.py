"""Python helpers for the Invoice side's control endpoints (``{base_url}/api/_sandbox/...``).

>>> control = InvoiceSandboxControl(httpx.Client(base_url=sandbox_url))
>>> control.set_limits(per_minute=5)
>>> control.seed("800000000001000003", contacts=10, invoices=500, seed=3)
"""

from __future__ import annotations

from typing import Any

from .._http import httpx
from ._limits import InvoiceLimits
from ._seed import SeedResult

__all__ = ["AsyncInvoiceSandboxControl", "InvoiceSandboxControl"]


def _seed_body(
    organization_id: str, contacts: int, items: int, invoices: int, estimates: int, seed: int
) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "contacts": contacts,
        "items": items,
        "invoices": invoices,
        "estimates": estimates,
        "seed": seed,
    }


def _checked(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json() if response.content else None


class InvoiceSandboxControl:
    """Drive the Invoice API simulator; ``client.base_url`` is the sandbox's base URL."""

    def __init__(self, client: httpx.Client, *, prefix: str = "/api") -> None:
        self._client = client
        self._prefix = prefix.rstrip("/") + "/_sandbox"

    def limits(self) -> InvoiceLimits:
        return InvoiceLimits(**_checked(self._client.get(f"{self._prefix}/limits")))

    def set_limits(self, **changes: Any) -> InvoiceLimits:
        """Change some limits (``per_minute``, ``window_seconds``, ``daily``, ``concurrent``,
        ``daily_error_http_200``, ``plan``, ``daily_reset_timezone``, ``ip_per_minute``, ...:
        the fields of ``InvoiceLimits``); the others stay."""
        return InvoiceLimits(**_checked(self._client.put(f"{self._prefix}/limits", json=changes)))

    def reset_usage(self) -> None:
        """Forget every request counted so far (per minute, per day)."""
        _checked(self._client.delete(f"{self._prefix}/usage"))

    def set_tax_rules(self, **changes: str) -> dict[str, Any]:
        """``line_tax``: who must name a tax on every invoice line (``"registered"``: VAT and
        GST organizations, the default; ``"always"``; ``"never"``). ``group_listing``: tax
        groups among the taxes (``"inline"``) or in a ``tax_groups`` array (``"separate"``)."""
        return dict(_checked(self._client.put(f"{self._prefix}/taxes", json=changes)))

    def seed(
        self,
        organization_id: str,
        *,
        contacts: int = 50,
        items: int = 20,
        invoices: int = 200,
        estimates: int = 0,
        seed: int = 0,
    ) -> SeedResult:
        body = _seed_body(organization_id, contacts, items, invoices, estimates, seed)
        return SeedResult(**_checked(self._client.post(f"{self._prefix}/seed", json=body)))

    def emails(self, organization_id: str) -> list[dict[str, Any]]:
        """The invoice e-mails the simulator recorded (never sent) for an organization."""
        answer = self._client.get(
            f"{self._prefix}/emails", params={"organization_id": organization_id}
        )
        return list(_checked(answer)["emails"])


class AsyncInvoiceSandboxControl:
    """:class:`InvoiceSandboxControl` over an ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient, *, prefix: str = "/api") -> None:
        self._client = client
        self._prefix = prefix.rstrip("/") + "/_sandbox"

    async def limits(self) -> InvoiceLimits:
        return InvoiceLimits(**_checked(await self._client.get(f"{self._prefix}/limits")))

    async def set_limits(self, **changes: Any) -> InvoiceLimits:
        answer = await self._client.put(f"{self._prefix}/limits", json=changes)
        return InvoiceLimits(**_checked(answer))

    async def reset_usage(self) -> None:
        _checked(await self._client.delete(f"{self._prefix}/usage"))

    async def set_tax_rules(self, **changes: str) -> dict[str, Any]:
        answer = await self._client.put(f"{self._prefix}/taxes", json=changes)
        return dict(_checked(answer))

    async def seed(
        self,
        organization_id: str,
        *,
        contacts: int = 50,
        items: int = 20,
        invoices: int = 200,
        estimates: int = 0,
        seed: int = 0,
    ) -> SeedResult:
        body = _seed_body(organization_id, contacts, items, invoices, estimates, seed)
        return SeedResult(**_checked(await self._client.post(f"{self._prefix}/seed", json=body)))

    async def emails(self, organization_id: str) -> list[dict[str, Any]]:
        answer = await self._client.get(
            f"{self._prefix}/emails", params={"organization_id": organization_id}
        )
        return list(_checked(answer)["emails"])
