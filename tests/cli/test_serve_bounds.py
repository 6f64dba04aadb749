"""End-to-end tests: ``zoho-invoice serve`` as a real process on a real port, attacked with raw
sockets and oversized requests (SECURITY 40, 47, 51).

Its memory is read with psutil: over-long parameters and a 200 MB body must not grow it, and idle,
trickling or surplus connections are closed by the server itself (uvicorn alone keeps them for
ever). The limits are set low on the command line (``--max-connections 40 --header-timeout 1
--keep-alive 1``) so the test waits seconds, not minutes; the bounds are checked by what the
server does (it closes, it answers 503 or 413), never by how fast.
"""

from __future__ import annotations

import json
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil
import pytest
import uvicorn

from support import free_port
from zoho_invoice._http import httpx
from zoho_invoice._serving import server_config
from zoho_invoice.vault import KeyRing
from zoho_invoice_sandbox import datacenters_table

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]
API_KEY = "serve-bounds-api-key-" + "a" * 24
MAX_CONNECTIONS = 40
MB = 1024 * 1024


@dataclass
class Served:
    host: str
    port: int
    process: psutil.Process

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    datacenters_file = tmp / "datacenters.json"
    datacenters_file.write_text(
        json.dumps(datacenters_table("http://127.0.0.1:9")), encoding="utf-8"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")},
        "ZOHO_CLIENT_ID": "1000.BOUNDS",
        "ZOHO_CLIENT_SECRET": "bounds-client-secret",
        "ZOHO_REDIRECT_URI": f"http://127.0.0.1:{port}/callback",
        "ZOHO_ENCRYPTION_KEYS": KeyRing.generate_entry(),
        "ZOHO_API_KEY": API_KEY,
        "ZOHO_DATACENTERS": str(datacenters_file),
        "ZOHO_DATA_DIR": str(tmp / "data"),
        "ZOHO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    args = ["--port", str(port), "--max-connections", str(MAX_CONNECTIONS)]
    # The test below opens MAX_CONNECTIONS from 127.0.0.1: the global limit is what it checks.
    args += ["--max-connections-per-ip", str(MAX_CONNECTIONS)]
    args += ["--header-timeout", "1", "--keep-alive", "1"]
    process = subprocess.Popen(
        [*CLI, "serve", *args],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate(timeout=5)
                pytest.fail(f"zoho-invoice serve did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield Served("127.0.0.1", port, psutil.Process(process.pid))
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _closed_by_server(sock: socket.socket, deadline: float) -> bytes | None:
    """What the server sent before closing ``sock`` (b"" for nothing); ``None`` if it still
    held the connection open at ``deadline``."""
    received = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return None
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def _raw_status(served: Served, target: str, headers: str = "") -> int:
    """The status answered to ``GET target`` sent as it is over a raw socket (0: none)."""
    with served.connect() as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
        try:
            sock.sendall(request.encode())
        except OSError:
            pass  # the server may refuse and close before the whole line has been sent
        answer = _closed_by_server(sock, time.monotonic() + 10)
    return _status(answer or b"")


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _api(served: Served) -> httpx.Client:
    return httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )


def _huge_body(total: int, chunk: int = MB) -> Iterator[bytes]:
    yield b'{"owner": "t", "pad": "'
    for _ in range(total // chunk):
        yield b"x" * chunk
    yield b'"}'


def test_s40_s47_oversized_requests_are_refused_without_growing_memory(served: Served) -> None:
    with _api(served) as api:
        # Warm up every path once, so what follows measures the attack alone.
        assert api.post("/api/connect-sessions", json={"owner": "t"}).status_code == 201
        assert api.get("/callback", params={"state": "s", "code": "c"}).status_code == 400
        before = served.rss()

        # Over-long parameters (raw: httpx itself refuses such URLs): a 64 KB state, a 1 MB
        # query, a 64 KB header, a 64 KB connect token.
        auth = f"Authorization: Bearer {API_KEY}\r\n"
        for target, header in [
            ("/callback?code=c&state=" + "A" * 65536, ""),
            ("/api/connections?" + "&".join(f"p{i}=" + "v" * 1000 for i in range(1000)), auth),
            ("/healthz", "X-Padding: " + "h" * 65536 + "\r\n"),
            ("/connect/" + "a" * 65536, ""),
        ]:
            assert _raw_status(served, target, header) in (400, 414, 431), target[:40]

        # 200 MB sent in 1 MB chunks (no Content-Length): refused once 1 MB has arrived.
        chunked = api.post(
            "/api/connect-sessions",
            content=_huge_body(200 * MB),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        assert chunked.json()["error"] == "too_large"

    # 200 MB announced in Content-Length: refused before a byte of the body is sent.
    with served.connect() as sock:
        sock.sendall(
            b"POST /api/connect-sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {API_KEY}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n"
        )
        answer = _closed_by_server(sock, time.monotonic() + 10)
        assert answer is not None and _status(answer) == 413

    grown = served.rss() - before
    assert grown < 50 * MB, f"the service grew by {grown // MB} MB"
    with _api(served) as api:
        assert api.get("/healthz").status_code == 200
        assert api.post("/api/connect-sessions", json={"owner": "t"}).status_code == 201


def test_s51_idle_trickling_and_surplus_connections_are_closed(served: Served) -> None:
    # Connections under the limit, idle: a legit request is still served meanwhile.
    idle = [served.connect() for _ in range(MAX_CONNECTIONS // 2)]
    try:
        assert httpx.get(served.url + "/healthz", timeout=10).status_code == 200
    finally:
        for sock in idle:
            sock.close()

    # Five times the limit at once: the surplus is answered 503 and closed at once; the rest,
    # sending nothing (or a header byte at a time), are closed after the header timeout.
    sockets = [served.connect() for _ in range(5 * MAX_CONNECTIONS)]
    trickling = sockets[:3]
    for sock in trickling:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    deadline = time.monotonic() + 20
    answers: list[bytes | None] = []
    try:
        while any(sock.fileno() != -1 for sock in trickling) and time.monotonic() < deadline:
            for sock in trickling:
                if sock.fileno() != -1:
                    try:
                        sock.sendall(b"X")  # one byte of a header that never ends
                    except OSError:
                        sock.close()  # the server closed it
            time.sleep(0.2)
        for sock in sockets[3:]:
            answers.append(_closed_by_server(sock, deadline))
    finally:
        for sock in sockets:
            sock.close()
    assert all(sock.fileno() == -1 for sock in trickling), "a trickling client was kept"
    assert None not in answers, f"{answers.count(None)} idle connections were kept"
    refused = [a for a in answers if a]
    assert refused and all(_status(a) == 503 for a in refused)
    assert len(refused) >= 5 * MAX_CONNECTIONS - MAX_CONNECTIONS - 3

    # A kept-alive connection is closed once idle; and the service still serves.
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = _closed_by_server(sock, time.monotonic() + 20)
        assert answer is not None and _status(answer) == 200
    assert httpx.get(served.url + "/healthz", timeout=10).status_code == 200


def _pipelined(first: str, second_headers: str) -> bytes:
    """Two requests sent at once, the second before the first is answered (HTTP pipelining)."""
    return (
        f"GET {first} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{second_headers}Connection: close\r\n\r\n"
    ).encode()


def test_s51_a_pipelined_request_with_oversized_headers_is_refused(served: Served) -> None:
    # The head check ran only on an idle connection: a 60 KB header pipelined behind a small
    # request reached the app (200 twice). Now the second request gets 431.
    with served.connect() as sock:
        sock.sendall(_pipelined("/healthz", "X-Padding: " + "h" * 60000 + "\r\n"))
        answer = _closed_by_server(sock, time.monotonic() + 10)
    assert answer is not None and _status(answer) == 200
    assert answer.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 431 " in answer
    # A small pipelined request is still served.
    with served.connect() as sock:
        sock.sendall(_pipelined("/healthz", ""))
        answer = _closed_by_server(sock, time.monotonic() + 10)
    assert answer is not None and answer.count(b"HTTP/1.1 200 ") == 2


class _Recorder:
    """A tiny ASGI app that says what it saw: each request's path and largest header value,
    and each client that left while it waited for a body."""

    def __init__(self) -> None:
        self.seen: queue.Queue[tuple[str, int]] = queue.Queue()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.seen.put((scope["path"], max(len(value) for _, value in scope["headers"])))
        if scope["method"] == "POST":
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.seen.put(("gone", 0))
                    return
                if not message.get("more_body"):
                    break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def next(self) -> tuple[str, int]:
        return self.seen.get(timeout=10)


@contextmanager
def _tiny_server(app: _Recorder, **bounds: Any) -> Iterator[Served]:
    """``server_config`` serving ``app`` on a real port, in a thread."""
    port = free_port()
    config = server_config(
        app, port=port, log_level="warning", access_log=False, lifespan="off", **bounds
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield Served("127.0.0.1", port, psutil.Process())
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_s51_the_app_never_sees_a_pipelined_oversized_head() -> None:
    app = _Recorder()
    with _tiny_server(app) as served, served.connect() as sock:
        sock.sendall(_pipelined("/first", "X-Padding: " + "h" * 60000 + "\r\n"))
        answer = _closed_by_server(sock, time.monotonic() + 10)
    assert answer is not None and answer.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 431 " in answer
    assert app.next() == ("/first", len("127.0.0.1"))
    assert app.seen.empty(), "the app saw the pipelined request"


def test_s51_one_address_holds_at_most_max_connections_per_ip() -> None:
    # A body sent a byte now and then holds its connection: from one address, only the cap.
    app = _Recorder()
    slow_head = b"POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
    with _tiny_server(app, max_connections=10, max_connections_per_ip=3) as served:
        holding = [served.connect() for _ in range(3)]
        try:
            for sock in holding:
                sock.sendall(slow_head)
                assert app.next()[0] == "/slow"  # accepted, its app waits for the body
            with served.connect() as extra:
                answer = _closed_by_server(extra, time.monotonic() + 10)
            assert answer is not None and _status(answer) == 503

            holding.pop().close()
            assert app.next()[0] == "gone"
            with served.connect() as again:
                again.sendall(slow_head)
                assert app.next()[0] == "/slow"  # a fourth one fits again
        finally:
            for sock in holding:
                sock.close()
