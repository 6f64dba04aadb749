"""The Zoho Invoice API v3 side of the sandbox.

>>> app = create_invoice_app(world)                 # serves /{location}/invoice/v3/...
>>> seed_organization(world, "800000000001000003", contacts=50, invoices=2000, seed=1)

Mounted at ``/api`` by the sandbox app; its control endpoints are ``/api/_sandbox/limits``
(GET/PUT), ``/api/_sandbox/usage`` (DELETE: forget counted requests), ``/api/_sandbox/seed``
(POST) and ``/api/_sandbox/emails?organization_id=`` (GET), wrapped by
:class:`InvoiceSandboxControl`.
"""

from ._app import create_invoice_app
from ._control import AsyncInvoiceSandboxControl, InvoiceSandboxControl
from ._limits import InvoiceLimits
from ._seed import SeedResult, seed_organization
from ._store import InvoiceStore

__all__ = [
    "AsyncInvoiceSandboxControl",
    "InvoiceLimits",
    "InvoiceSandboxControl",
    "InvoiceStore",
    "SeedResult",
    "create_invoice_app",
    "seed_organization",
]
