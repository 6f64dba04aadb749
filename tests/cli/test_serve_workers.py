"""End-to-end tests of ``zoho-invoice serve --workers 2``: a real process on a real port, its
worker processes seen with psutil, a connection made through the real connect flow against the
sandbox on a port (issue 9).

Which worker answered is read from the outside: while a raw socket's answer is in hand and the
socket still open, exactly one worker process holds the other end of it. Nothing here waits for
speed; the bound checked (the header timeout) is checked by what the server does.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import pytest
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from support import free_port
from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.vault import KeyRing
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import running_sandbox

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
API_KEY = "serve-workers-api-key-" + "0123456789abcdef" * 2
WORKERS = 2
#: New connections tried before concluding that a worker never answers one.
ATTEMPTS = 200


@dataclass
class Service:
    port: int
    connection_id: str
    process: subprocess.Popen[bytes]

    def workers(self) -> list[psutil.Process]:
        """The worker processes: the children uvicorn's supervisor spawned (not the
        multiprocessing resource tracker, a child too)."""
        children = psutil.Process(self.process.pid).children()
        return [c for c in children if "spawn_main" in " ".join(c.cmdline())]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """The sandbox on a port and a vault holding one connection made through the flow."""
    tmp_path = tmp_path_factory.mktemp("workers")
    dcs = tmp_path / "dcs.json"
    with running_sandbox(data_dir=tmp_path / "sandbox", datacenters_out=dcs) as sandbox:
        settings = Settings(
            client_id="1000.SERVEWORKERS",
            client_secret="serve-workers-client-secret",
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=dcs,
            data_dir=tmp_path / "data",
            public_url=PUBLIC_URL,
        )
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            connection_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="w-1")
        yield settings, connection_id


def _env(settings: Settings) -> dict[str, str]:
    assert settings.encryption_keys is not None and settings.client_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env.update(
        {
            "ZOHO_ENV_FILE": "",
            "ZOHO_CLIENT_ID": str(settings.client_id),
            "ZOHO_CLIENT_SECRET": settings.client_secret.get_secret_value(),
            "ZOHO_REDIRECT_URI": str(settings.redirect_uri),
            "ZOHO_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "ZOHO_API_KEY": API_KEY,
            "ZOHO_DATACENTERS": str(settings.datacenters),
            "ZOHO_DATA_DIR": str(settings.data_dir),
            "ZOHO_PUBLIC_URL": PUBLIC_URL,
        }
    )
    return env


@contextmanager
def _serve_workers(world: tuple[Settings, str]) -> Iterator[Service]:
    """``zoho-invoice serve --workers 2`` on a free port, once both workers are up."""
    settings, connection_id = world
    port = free_port()
    args = ["serve", "--port", str(port), "--workers", str(WORKERS), "--header-timeout", "1"]
    process = subprocess.Popen(
        [*CLI, *args],
        env=_env(settings),
        cwd=settings.data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    served = Service(port, connection_id, process)
    try:
        deadline = time.monotonic() + 60
        while len(served.workers()) < WORKERS or not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate(timeout=10)
                pytest.fail(f"serve --workers did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield served
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def service(world: tuple[Settings, str]) -> Iterator[Service]:
    with _serve_workers(world) as served:
        yield served


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the supervisor stops its workers), else SIGKILL to the supervisor and every
    process under it: a supervisor killed alone leaves its workers serving."""
    if process.poll() is not None:
        process.communicate(timeout=30)
        return
    supervisor = psutil.Process(process.pid)
    tree = supervisor.children(recursive=True)
    process.terminate()
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        # The workers of now: the supervisor may have replaced one meanwhile.
        tree += supervisor.children(recursive=True)
        for member in [supervisor, *tree]:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        process.communicate(timeout=30)
    _, alive = psutil.wait_procs(tree, timeout=30)
    for member in alive:
        member.kill()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 answer read from ``sock``: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed without answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed mid-answer"
        body += chunk
    return int(lines[0].split()[1]), body


def _holder(workers: list[psutil.Process], port: int, client: tuple[str, int]) -> int:
    """The pid of the worker holding the server end of the client's connection."""
    holders = [
        worker.pid
        for worker in workers
        for conn in worker.net_connections(kind="tcp")
        if conn.laddr and conn.laddr.port == port and conn.raddr and tuple(conn.raddr) == client
    ]
    assert len(holders) == 1, holders
    return holders[0]


def test_two_workers_answer_healthz_and_the_access_token_route(service: Service) -> None:
    workers = service.workers()
    assert len(workers) == WORKERS
    assert _healthy(service.port)
    request = (
        f"POST /api/connections/{service.connection_id}/access-token HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{service.port}\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    answered_by: set[int] = set()
    tokens: set[bytes] = set()
    for _ in range(ATTEMPTS):
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
            sock.sendall(request)
            status, body = _answer(sock)
            assert status == 200, body
            tokens.add(body)
            answered_by.add(_holder(workers, service.port, sock.getsockname()))
        if answered_by == {w.pid for w in workers}:
            break
    assert answered_by == {w.pid for w in workers}
    # Both processes hand out the one stored token: no worker refreshed on its own.
    assert len(tokens) == 1


def test_s51_each_worker_keeps_the_header_timeout(service: Service) -> None:
    """A connection that never sends a head is closed by whichever worker took it."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        ready, _, _ = select.select([sock], [], [], 30)
        assert ready, "the connection was still held after 30 s (header timeout 1 s)"
        assert sock.recv(1024) == b""


def test_sigterm_stops_every_worker(world: tuple[Settings, str]) -> None:
    with _serve_workers(world) as service:
        workers = service.workers()
        assert len(workers) == WORKERS
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive
        assert not _healthy(service.port)
