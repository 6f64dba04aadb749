"""Running the sandbox: under uvicorn for ``zoho-invoice sandbox``, or in a thread for tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from .._files import ensure_private_dir, write_private_text
from ._app import create_sandbox_app, datacenters_table
from ._world import SandboxWorld

__all__ = ["RunningSandbox", "running_sandbox", "serve_sandbox"]


def _base_url(host: str, port: int) -> str:
    # A wildcard bind is reached on loopback (and the DC table accepts http only there).
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host) or (  # noqa: S104
        f"[{host}]" if ":" in host else host
    )
    return f"http://{shown}:{port}"


def write_datacenters(base_url: str, path: Path) -> None:
    """Write the DC table for ``ZOHO_DATACENTERS``, owner-only like every sandbox file."""
    ensure_private_dir(path.parent)
    write_private_text(path, json.dumps(datacenters_table(base_url), indent=2) + "\n")


def serve_sandbox(
    host: str, port: int, data_dir: Path | None, datacenters_out: Path | None
) -> None:
    """Serve the sandbox until interrupted; write the DC table to ``datacenters_out`` first.

    URLs in the table are ``http://{host}:{port}/accounts/xx`` and ``.../api/xx`` (a wildcard
    host such as ``0.0.0.0`` is written as ``127.0.0.1``).
    """
    base_url = _base_url(host, port)
    app = create_sandbox_app(base_url=base_url, data_dir=data_dir)
    if datacenters_out is not None:
        write_datacenters(base_url, datacenters_out)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    base_url: str
    app: Starlette
    world: SandboxWorld


@contextmanager
def running_sandbox(
    *,
    host: str = "127.0.0.1",
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    datacenters_out: Path | None = None,
) -> Iterator[RunningSandbox]:
    """The sandbox on a free port in a background thread, for tests of sync clients.

    >>> with running_sandbox() as sandbox:   # doctest: +SKIP
    ...     httpx.get(sandbox.base_url + "/_sandbox/users")
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    base_url = _base_url(host, int(sock.getsockname()[1]))
    app = create_sandbox_app(base_url=base_url, data_dir=data_dir, clock=clock)
    if datacenters_out is not None:
        write_datacenters(base_url, datacenters_out)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)
        yield RunningSandbox(base_url, app, app.state.world)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.world.close()
