"""The sandbox as one ASGI app: Accounts for every DC, the Invoice API, and the control API.

The sandbox depends on nothing of ``zoho_invoice``: its body limit and the server's bounds are
its own copy of the service's (``._serving``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ._accounts import accounts_routes
from ._control import control_routes
from ._respond import DATACENTERS
from ._serving import MAX_BODY_BYTES, BodyLimitMiddleware
from ._world import SandboxWorld, Sleep
from .invoice import InvoiceLimits, create_invoice_app
from .invoice._extras import MAX_ATTACHMENT_BYTES

__all__ = ["create_sandbox_app", "datacenters_table"]

#: The one path whose body may pass 1 MB: a file attached to an invoice (the Invoice API is
#: mounted at /api).
ATTACHMENT_UPLOAD_PATH = r"/api/[a-z]+/invoice/v3/invoices/[0-9]+/attachment"


def datacenters_table(base_url: str) -> dict[str, dict[str, str]]:
    """The ``ZOHO_DATACENTERS`` JSON for a sandbox at ``base_url`` (all nine DCs).

    >>> datacenters_table("http://127.0.0.1:8090")["eu"]["accounts_url"]
    'http://127.0.0.1:8090/accounts/eu'
    """
    base = base_url.rstrip("/")
    return {
        location: {
            "accounts_url": f"{base}/accounts/{location}",
            "api_domain": f"{base}/api/{location}",
        }
        for location in DATACENTERS
    }


def create_sandbox_app(
    *,
    base_url: str,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    invoice_limits: InvoiceLimits | None = None,
    control_key: str | None = None,
    sleep: Sleep = anyio.sleep,
) -> Starlette:
    """A local Zoho at ``base_url``: ``/accounts/{location}/oauth/v2/...``,
    ``/api/{location}/invoice/v3/...`` and ``/_sandbox/...``. With ``data_dir`` its state
    (tokens, invoices) survives a restart; ``invoice_limits`` sets the organizations' request
    limits (also changeable at ``/api/_sandbox/limits`` while it runs); ``control_key`` puts the
    control routes behind ``X-Sandbox-Key`` (see :class:`SandboxWorld`); ``sleep`` plays
    scripted faults' delays (a test's own shows them without waiting). Request bodies over 1 MB
    are answered 413.

    The shared :class:`SandboxWorld` is ``app.state.world``.
    """
    world = SandboxWorld(
        base_url=base_url, data_dir=data_dir, clock=clock, control_key=control_key, sleep=sleep
    )

    async def index(request: Request) -> Response:
        return JSONResponse(
            {"sandbox": "zoho-invoice-connect", "datacenters": datacenters_table(world.base_url)}
        )

    routes: list[BaseRoute] = [Route("/", index), Route("/_sandbox", index)]
    routes += accounts_routes(world)
    routes += control_routes(world)
    routes.append(Mount("/api", app=create_invoice_app(world, limits=invoice_limits)))
    # Every request is journaled with its body: refuse a large one before it is read whole.
    # An invoice attachment may be 5 MB (Zoho's limit), so its upload gets a little more.
    too_large = json.dumps({"code": 413, "message": "The request body is too large."})
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                BodyLimitMiddleware,
                max_bytes=MAX_BODY_BYTES,
                content=too_large.encode(),
                larger=[(ATTACHMENT_UPLOAD_PATH, MAX_ATTACHMENT_BYTES + 64 * 1024)],
            )
        ],
    )
    app.state.world = world
    return app
