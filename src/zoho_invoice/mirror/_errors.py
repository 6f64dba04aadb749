"""The mirror's own error: a sync that cannot run for a reason of the mirror (no organization
bound to the connection, an unknown resource name, a lease lost mid-run)."""

from __future__ import annotations

from .._exceptions import ZohoError

__all__ = ["MirrorError"]


class MirrorError(ZohoError):
    """A sync could not run or had to stop for a reason of the mirror itself (not Zoho's, not
    the vault's): no organization bound, an unknown resource, its lease taken over."""
