"""What one client may hold of the served sandbox: body size, time to send headers, connections.

A copy of ``zoho_invoice._serving`` (the service's): the sandbox stands in for Zoho and depends
on nothing of ``zoho_invoice``, yet holds the same bounds (SECURITY 47, 51). The two copies are
kept equal by ``tests/sandbox/test_serving_copy.py``; change both or neither.

- :class:`BodyLimitMiddleware` answers 413 for a body over :data:`MAX_BODY_BYTES` as soon as the
  declared length (``Content-Length``) or the bytes received so far pass it, so a 200 MB body is
  never read whole.
- :func:`server_config` is a ``uvicorn.Config`` with bounds: at most :data:`MAX_CONNECTIONS`
  connections (more are answered 503 and closed at once), of which at most
  :data:`MAX_CONNECTIONS_PER_IP` from one client address, :data:`HEADER_TIMEOUT` seconds to send a
  request head (uvicorn has no such timeout: :class:`BoundedH11Protocol` adds it),
  :data:`KEEP_ALIVE_TIMEOUT` seconds idle between requests, a request head of at most
  :data:`MAX_HEAD_BYTES` (a longer request line → 414, longer headers → 431), pipelined ones too.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Sequence
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors.multiprocess import Multiprocess

__all__ = [
    "HEADER_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_IP",
    "MAX_HEAD_BYTES",
    "BodyLimitMiddleware",
    "BoundedConfig",
    "BoundedH11Protocol",
    "serve_workers",
    "server_config",
]

#: The largest request body accepted (1 MiB): every body of the JSON API, the connect flow and
#: the demo is a few kilobytes.
MAX_BODY_BYTES = 1024 * 1024
#: Connections served at once; one more is answered 503 and closed.
MAX_CONNECTIONS = 500
#: Connections one client address may hold at once; one more is answered 503 and closed. A body
#: sent a byte now and then holds its connection (the header timeout stops at the head, and
#: uvicorn has no body timeout): this keeps one address from taking all of MAX_CONNECTIONS.
#: Behind a reverse proxy every connection comes from the proxy: raise it to MAX_CONNECTIONS.
MAX_CONNECTIONS_PER_IP = 50
#: Seconds a client has to send a whole request head, counted from the connection (or the end
#: of the previous answer on a kept-alive connection). A byte now and then does not extend it.
HEADER_TIMEOUT = 10.0
#: Seconds an idle kept-alive connection stays open.
KEEP_ALIVE_TIMEOUT = 5
#: The largest request head (request line and headers); more → 414 or 431.
MAX_HEAD_BYTES = 16 * 1024

_TOO_LARGE = {
    "error": "too_large",
    "message": f"the request body is larger than {MAX_BODY_BYTES} bytes (1 MB)",
}
_HEAD_END = re.compile(rb"\n\r?\n")  # the blank line that ends a head, as h11 reads it
#: Seconds a refused connection is still read (and its bytes dropped) before it is closed.
_LINGER_SECONDS = 1.0


def _plain_answer(status: str, text: str) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection (written before h11 has a request)."""
    body = text.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


_BUSY = _plain_answer("503 Service Unavailable", "Too many connections; try again soon.")
_URI_TOO_LONG = _plain_answer("414 URI Too Long", "The request line is too long.")
_HEADERS_TOO_LARGE = _plain_answer(
    "431 Request Header Fields Too Large", "The request headers are too large."
)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Answer 413 (and close the connection) once a request body passes ``max_bytes``.

    A ``Content-Length`` over the limit is refused before the app runs; a body sent without one
    (chunked) is counted as it arrives and refused at the chunk that passes the limit: the app
    then sees the client gone, and whatever it answers is dropped. ``content`` and
    ``media_type`` shape the 413 (by default the JSON API's ``{"error", "message"}``).
    ``larger`` names the few paths (regular expressions matched against the whole path) that
    take more, each with its own limit: a file upload.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = MAX_BODY_BYTES,
        content: bytes | None = None,
        media_type: str = "application/json",
        larger: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]
        self.content = content if content is not None else json.dumps(_TOO_LARGE).encode()
        self.media_type = media_type

    async def _refuse(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", self.media_type.encode("latin-1")),
                    (b"content-length", str(len(self.content)).encode()),
                    (b"cache-control", b"no-store"),
                    # The rest of the body is not wanted: the server closes instead of reading it.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.content})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = next(
            (limit for pattern, limit in self.larger if pattern.fullmatch(scope.get("path", ""))),
            self.max_bytes,
        )
        declared = _declared_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the 413 was sent in the app's place
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # The app saw the client "gone" because we refused its body: nothing to report.
            if not refused:
                raise


class _CycleConnection(h11.Connection):
    """h11's server connection that tells its protocol when a new request cycle starts (the
    requests pipelined after it are in h11's buffer, never seen by ``data_received`` while the
    connection was idle), and parses nothing once the protocol has refused the connection."""

    def __init__(self, protocol: BoundedH11Protocol, max_incomplete_event_size: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_incomplete_event_size)
        self._protocol = protocol

    def start_next_cycle(self) -> None:
        super().start_next_cycle()
        self._protocol._cycle_started()

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        if self._protocol._refused:
            return h11.NEED_DATA  # the refusal is written; what is buffered goes nowhere
        return super().next_event()


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each answer at once (``TCP_NODELAY``). asyncio sets it only on sockets it made
    itself; a socket handed to worker processes comes back with ``proto`` 0, and without it
    Nagle's algorithm meets the client's delayed ACK: 40 ms on nearly every kept-alive answer."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with four more bounds (SECURITY 40, 51).

    - A request head must arrive whole within ``header_timeout`` seconds of the connection (or of
      the previous answer), else the connection is closed: uvicorn by itself waits for ever, so
      idle or trickling connections would pile up.
    - A request head over ``max_head_bytes`` is answered 414 (a request line that long) or 431
      (headers) and the connection closed. h11's own limit applies only to a head still
      incomplete after a read: one that arrives whole in a single read passes it at any size.
      A request pipelined behind another (sent before the answer) is checked when its cycle
      starts, from what h11 holds of it, before the app sees it.
    - Past ``limit_concurrency`` open connections, a new one is answered 503 and closed at once,
      instead of being held until it sends a request.
    - Past ``max_connections_per_ip`` open connections from the client's address, likewise: a
      slow body holds its connection, and one address must not hold them all.
    """

    header_timeout: float = HEADER_TIMEOUT
    max_head_bytes: int = MAX_HEAD_BYTES
    max_connections_per_ip: int = MAX_CONNECTIONS_PER_IP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.config, BoundedConfig):
            self.header_timeout = self.config.header_timeout
            self.max_connections_per_ip = self.config.max_connections_per_ip
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _CycleConnection(self, MAX_HEAD_BYTES if limit is None else limit)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head = bytearray()  # the current head so far (at most max_head_bytes + 2)
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        # uvicorn answers 503 to a request when this many connections are open; say it now.
        if self.limit_concurrency is not None and len(self.connections) >= self.limit_concurrency:
            self._refuse(_BUSY)
            return
        if self.client is not None and self._held_by_client() > self.max_connections_per_ip:
            self._refuse(_BUSY)
            return
        self._watch_head()

    def _held_by_client(self) -> int:
        """Connections (this one included) open and not refused from this client's address."""
        assert self.client is not None
        address = self.client[0]
        return sum(
            1
            for other in self.connections
            if isinstance(other, BoundedH11Protocol)
            and not other._refused
            and other.client is not None
            and other.client[0] == address
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the lingering close
        if self.conn.their_state is h11.IDLE:
            problem = self._head_problem(data)
            if problem is not None:
                self._refuse(problem)
                return
        super().data_received(data)
        self._watch_head()

    def _cycle_started(self) -> None:
        """A new request cycle on a kept-alive connection: its head so far is what h11 holds
        (requests pipelined behind the last one), checked now, before h11 parses it."""
        self._head.clear()
        problem = self._head_problem(self.conn.trailing_data[0])
        if problem is not None:
            self._refuse(problem)

    def _head_problem(self, data: bytes) -> bytes | None:
        """The refusal for a head that passes ``max_head_bytes`` with ``data``, else None."""
        room = self.max_head_bytes + 2 - len(self._head)
        self._head += data[: max(room, 0)]
        end = _HEAD_END.search(self._head)
        if end is not None and end.end() <= self.max_head_bytes:
            return None
        if end is None and len(self._head) <= self.max_head_bytes:
            return None
        if b"\n" not in self._head[: self.max_head_bytes]:
            return _URI_TOO_LONG
        return _HEADERS_TOO_LARGE

    def _refuse(self, answer: bytes) -> None:
        """Answer, stop sending, and close a little later: closing at once, with the client's
        bytes unread, would reset the connection and could lose the answer on its way."""
        self._refused = True
        self._stop_head_timer()
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def _watch_head(self) -> None:
        """Time the head while none has arrived in this cycle; stop once one has."""
        if self._refused or self.transport is None or self.transport.is_closing():
            self._stop_head_timer()
            return
        waiting = self.conn.their_state is h11.IDLE
        if waiting and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        elif not waiting:
            self._stop_head_timer()
            self._head.clear()

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class BoundedConfig(uvicorn.Config):
    """``uvicorn.Config`` carrying the bounds :class:`BoundedH11Protocol` reads, so the whole
    configuration pickles (by reference to module-level classes) into worker processes."""

    def __init__(
        self,
        app: ASGIApp | str,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections_per_ip: int = MAX_CONNECTIONS_PER_IP,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.header_timeout = header_timeout
        self.max_connections_per_ip = max_connections_per_ip


def server_config(
    app: ASGIApp | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_connections: int = MAX_CONNECTIONS,
    max_connections_per_ip: int = MAX_CONNECTIONS_PER_IP,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive: int = KEEP_ALIVE_TIMEOUT,
    **options: Any,
) -> BoundedConfig:
    """A ``uvicorn.Config`` with the bounds above; ``options`` go to uvicorn as they are.

    ``app`` may be an import string (with ``factory=True``, of a function that builds it), as
    :func:`serve_workers` needs.
    """
    return BoundedConfig(
        app,
        host=host,
        port=port,
        http=BoundedH11Protocol,
        header_timeout=header_timeout,
        max_connections_per_ip=max_connections_per_ip,
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        **options,
    )


def serve_workers(config: BoundedConfig, workers: int) -> None:
    """Serve ``config`` from ``workers`` processes sharing one listening socket, until SIGINT or
    SIGTERM stops them all.

    uvicorn's own supervisor (``uvicorn.supervisors.Multiprocess``) binds the socket once,
    starts the processes (spawned: each imports ``config.app``, an import string, and builds
    its own app), replaces one that dies and, on SIGINT or SIGTERM, stops every one gracefully.
    The kernel hands each new connection to one of them. Every bound holds in each process:
    ``workers`` processes hold up to ``workers`` times ``max_connections`` connections in all, and
    one client address up to ``workers`` times ``max_connections_per_ip``.
    """
    if not isinstance(config.app, str):
        raise TypeError("serve_workers needs the app as an import string (each process builds it)")
    config.workers = workers
    listening = config.bind_socket()
    try:
        Multiprocess(config, sockets=[listening]).run()
    finally:
        listening.close()
