"""zoho-invoice-connect: connect your users' Zoho Invoice accounts and work with their invoices."""

from ._exceptions import *  # noqa: F403  (curated below)
