"""A local Zoho: Accounts for every data centre and the Invoice API, with Zoho's limits and errors.

It imports nothing from the rest of ``zoho_invoice``: it stands in for Zoho.
"""

from ._directory import Directory, SimOrganization, SimUser
from ._world import AccessGrant, Fault, Journal, JournalEntry, SandboxSettings, SandboxWorld

__all__ = [
    "AccessGrant",
    "Directory",
    "Fault",
    "Journal",
    "JournalEntry",
    "SandboxSettings",
    "SandboxWorld",
    "SimOrganization",
    "SimUser",
]
