"""A local Zoho: Accounts for every data centre and the Invoice API, with Zoho's limits and errors.

The distribution ``zoho-invoice-sandbox`` (folder ``sandbox/`` of zoho-invoice-connect): it stands
in for Zoho and needs nothing of ``zoho_invoice``. Its command is ``zoho-invoice-sandbox`` (serve,
seed); its pytest plugin gives tests the ``zoho_sandbox`` fixture.

>>> app = create_sandbox_app(base_url="http://127.0.0.1:8090")
>>> datacenters_table("http://127.0.0.1:8090")["ca"]["api_domain"]
'http://127.0.0.1:8090/api/ca'
"""

from ._app import create_sandbox_app, datacenters_table
from ._cli import seed_folder
from ._control import AsyncSandboxControl, SandboxControl
from ._directory import Directory, SimOrganization, SimUser
from ._server import RunningSandbox, running_sandbox, serve_sandbox
from ._world import AccessGrant, Fault, Journal, JournalEntry, SandboxSettings, SandboxWorld

__all__ = [
    "AccessGrant",
    "AsyncSandboxControl",
    "Directory",
    "Fault",
    "Journal",
    "JournalEntry",
    "RunningSandbox",
    "SandboxControl",
    "SandboxSettings",
    "SandboxWorld",
    "SimOrganization",
    "SimUser",
    "create_sandbox_app",
    "datacenters_table",
    "running_sandbox",
    "seed_folder",
    "serve_sandbox",
]
