"""HTTP helpers both sides of the sandbox share: journaling a request and playing a fault."""

from __future__ import annotations

from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._world import SandboxWorld

__all__ = ["DATACENTERS", "fault_response", "hold_answer", "journal_request"]

#: Zoho's data centres, in the order of docs/zoho/README.md ("Data centres").
DATACENTERS: tuple[str, ...] = ("us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn")

_FORM = "application/x-www-form-urlencoded"


async def journal_request(
    world: SandboxWorld, endpoint: str, request: Request
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Record the request in the journal; return its query and form pairs."""
    query = list(request.query_params.multi_items())
    raw = await request.body()
    form: list[tuple[str, str]] = []
    body = ""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == _FORM:
        form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    else:
        body = raw.decode("utf-8", "replace")
    world.journal.record(
        endpoint=endpoint,
        method=request.method,
        path=request.url.path,
        query=query,
        form=form,
        headers=dict(request.headers),
        body=body,
    )
    return query, form


async def fault_response(
    world: SandboxWorld, endpoint: str, *, hold: list[float] | None = None
) -> Response | None:
    """Play the next scripted fault for ``endpoint``: its response, or ``None`` to go on.

    When the fault answers normally, its ``delay_after`` is appended to ``hold`` (the caller
    computes its answer, then :func:`hold_answer`).
    """
    fault = world.faults.take(endpoint)
    if fault is None:
        return None
    if fault.delay > 0:
        await world.sleep(fault.delay)
    if fault.status is None:
        if hold is not None and fault.delay_after > 0:
            hold.append(fault.delay_after)
        return None
    if fault.body is None:
        return Response(status_code=fault.status, headers=dict(fault.headers))
    return JSONResponse(fault.body, status_code=fault.status, headers=dict(fault.headers))


async def hold_answer(request: Request, seconds: float) -> None:
    """Wait ``seconds`` before answering, or less if the client hangs up (a killed process):
    the work is done, only the answer is late."""
    deadline = anyio.current_time() + seconds
    while anyio.current_time() < deadline:
        if await request.is_disconnected():
            return
        await anyio.sleep(min(0.05, max(deadline - anyio.current_time(), 0.0)))
