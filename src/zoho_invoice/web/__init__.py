"""The web service: the connect flow's browser routes, the JSON API and the demo dashboard.

>>> from zoho_invoice.web import create_app
>>> app = create_app()  # doctest: +SKIP  (settings from the environment)
"""

from ._app import api_router, connect_router, create_app
from ._context import WebContext, build_context, organizations_reader, users_reader

__all__ = [
    "WebContext",
    "api_router",
    "build_context",
    "connect_router",
    "create_app",
    "organizations_reader",
    "users_reader",
]
