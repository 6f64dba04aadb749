"""Running the sandbox: under uvicorn for ``zoho-invoice-sandbox`` (and ``zoho-invoice sandbox``),
or in a thread for tests and the demo."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from ._app import create_sandbox_app, datacenters_table
from ._files import ensure_private_dir, write_private_text
from ._serving import server_config
from ._world import SandboxWorld

__all__ = ["CONTROL_KEY_ENV", "RunningSandbox", "running_sandbox", "serve_sandbox"]


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


#: The environment variable that gives a served sandbox its control key.
CONTROL_KEY_ENV = "ZOHO_SANDBOX_CONTROL_KEY"


def serve_sandbox(
    host: str,
    port: int,
    data_dir: Path | None,
    datacenters_out: Path | None,
    *,
    control_key: str | None = None,
) -> None:
    """Serve the sandbox until interrupted; write the DC table to ``datacenters_out`` first.

    URLs in the table are ``http://{host}:{port}/accounts/xx`` and ``.../api/xx`` (a wildcard
    host such as ``0.0.0.0`` is written as ``127.0.0.1``). The control routes need
    ``control_key`` (else ``$ZOHO_SANDBOX_CONTROL_KEY``, else a new key printed on stderr) in
    ``X-Sandbox-Key``: anyone who can reach the port could otherwise read the journal's
    secrets (SECURITY 51). The server holds bounded resources (``_serving.server_config``).
    """
    key = control_key or os.environ.get(CONTROL_KEY_ENV) or None
    if key is None:
        key = secrets.token_urlsafe(32)
        sys.stderr.write(
            f"sandbox control key (send it as X-Sandbox-Key to /_sandbox/...): {key}\n"
            f"  set {CONTROL_KEY_ENV} to choose it yourself\n"
        )
        sys.stderr.flush()
    base_url = _base_url(host, port)
    app = create_sandbox_app(base_url=base_url, data_dir=data_dir, control_key=key)
    if datacenters_out is not None:
        write_datacenters(base_url, datacenters_out)
    config = server_config(app, host=host, port=port, log_level="info", access_log=False)
    uvicorn.Server(config).run()


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    base_url: str
    app: Starlette
    world: SandboxWorld


@contextmanager
def running_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    datacenters_out: Path | None = None,
    control_key: str | None = None,
) -> Iterator[RunningSandbox]:
    """The sandbox in a background thread on ``port`` (``0``: a free one), for tests of sync
    clients and for ``zoho-invoice demo`` (``control_key``: see :func:`create_sandbox_app`).

    ``OSError`` when ``port`` is taken; ``RuntimeError`` when the server does not start.

    >>> with running_sandbox() as sandbox:   # doctest: +SKIP
    ...     httpx.get(sandbox.base_url + "/_sandbox/users")
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # As uvicorn does: a port a stopped sandbox held (TIME_WAIT) can be bound again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    base_url = _base_url(host, int(sock.getsockname()[1]))
    app = create_sandbox_app(
        base_url=base_url, data_dir=data_dir, clock=clock, control_key=control_key
    )
    if datacenters_out is not None:
        write_datacenters(base_url, datacenters_out)
    config = server_config(app, log_level="warning", access_log=False, lifespan="off")
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
