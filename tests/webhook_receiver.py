"""A webhook receiver for tests: a real HTTP server on a free loopback port, in a thread.

It does what a receiver built on the ``standardwebhooks`` package does: verify each delivery
at the moment it arrives (``Webhook(secret).verify(body, headers)``, which also refuses a
timestamp more than five minutes away) and answer 400 when that fails. Tests script other
answers (``answers=[503, 200]``; a 3xx points at ``<url>/moved``) and read what arrived in
``received``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Delivery:
    """One request as it arrived, and the receiver's verdict on it."""

    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any  # what verify() returned, or None when it refused
    error: str | None  # why verify() refused, or None
    status: int  # what the receiver answered

    @property
    def verified(self) -> bool:
        return self.error is None


class Receiver:
    """See the module docstring. ``url`` is ``http://127.0.0.1:<port>/hooks/zoho``."""

    def __init__(self, secret: str, answers: Sequence[int] = ()) -> None:
        self.secret = secret
        self.answers = list(answers)
        self.received: list[Delivery] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver._record(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks/zoho"
        # A short poll interval: stopping waits for it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        payload: Any = None
        error: str | None = None
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            error = str(exc)
        with self._arrived:
            scripted = self.answers.pop(0) if self.answers else 204
            status = scripted if error is None else 400
            self.received.append(Delivery(handler.path, headers, body, payload, error, status))
        handler.send_response(status)
        if 300 <= status < 400:  # a redirect a sender must not follow
            handler.send_header("location", self.url + "/moved")
        handler.send_header("content-length", "0")
        handler.end_headers()
        with self._arrived:
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """The deliveries once ``count`` have arrived; AssertionError after ``timeout``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} deliveries arrived")
            return list(self.received)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (a stopped receiver refuses connections)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(secret: str, answers: Sequence[int] = ()) -> Iterator[Receiver]:
    receiver = Receiver(secret, answers).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def new_secret(size: int = 32) -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of ``size`` random bytes."""
    import base64
    import os

    return "whsec_" + base64.b64encode(os.urandom(size)).decode()
