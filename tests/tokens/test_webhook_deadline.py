"""One webhook attempt ends at its overall deadline, however the receiver paces its answer
(SECURITY 48).

httpx's ``timeout`` applies to each read, so a receiver that sends its answer's head one byte
at a time never trips it: the attempt would run past the 60 s claim lease (another sender
then sends the entry again) and hold the dispatcher thread. The receiver here is a real socket
server on a loopback port that reads the request, then dribbles an endless head. The real
Vault's outbox on SQLite records the attempt.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webhook_receiver import new_secret
from zoho_invoice.tokens import ConnectionEvent, DeliveryRound, OutboxEventSink, WebhookDeliverer
from zoho_invoice.vault import KeyRing, Vault

SECRET = new_secret()
EVENT = ConnectionEvent(
    type="connection.revoked",
    connection_id="d" * 32,
    owner="tenant-1",
    at=datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC),
    reason="disconnected",
)
#: Far longer than the test's deadline: only an attempt that ignores the deadline waits this.
BOUND = 30.0


class Dribbler:
    """Accepts one connection at a time, reads the request's head and body, then answers
    ``HTTP/1.1 200 OK`` and header lines one byte every ``pace`` seconds, never ending the
    head, until the client hangs up or the server stops."""

    def __init__(self, pace: float = 0.05) -> None:
        self._pace = pace
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/hooks/zoho"
        self.requests = 0
        self.hung_up = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            if not chunk:
                return
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += conn.recv(65536)
        self.requests += 1
        dribble = b"HTTP/1.1 200 OK\r\n" + b"x-slow: a\r\n" * 100_000
        for byte in dribble:
            if self._stop.wait(self._pace):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # the sender hung up: what the deadline is for
                self.hung_up.set()
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def dribbler() -> Iterator[Dribbler]:
    server = Dribbler()
    yield server
    server.stop()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    keyring = KeyRing.from_string(KeyRing.generate_entry())
    opened = Vault.open(f"sqlite:///{tmp_path / 'zoho.db'}", keyring, upgrade=True)
    yield opened
    opened.close()


def test_s48_a_receiver_dribbling_its_answer_is_cut_off_at_the_deadline_and_retried(
    vault: Vault, dribbler: Dribbler
) -> None:
    OutboxEventSink(vault.webhook_outbox)(EVENT)
    # A per-read timeout the dribbler never trips, and a small overall deadline.
    sender = WebhookDeliverer(vault.webhook_outbox, dribbler.url, SECRET, timeout=5.0, deadline=1.0)
    rounds: list[DeliveryRound] = []
    attempt = threading.Thread(target=lambda: rounds.append(sender.deliver_due()), daemon=True)
    attempt.start()
    attempt.join(BOUND)
    try:
        assert not attempt.is_alive(), "the attempt outlived its deadline"
        assert rounds == [DeliveryRound(retrying=1)]
        assert dribbler.requests == 1
        [entry] = vault.webhook_outbox.entries()
        assert entry.status == "pending" and entry.attempts == 1
        assert entry.last_error == "no answer within the 1 s deadline"
        assert entry.next_attempt_at > datetime.now(UTC)  # retried later, after its back-off
    finally:
        sender.close()


def test_s48_a_deadline_must_be_positive(vault: Vault) -> None:
    for deadline in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="deadline"):
            WebhookDeliverer(
                vault.webhook_outbox, "http://127.0.0.1:9/h", SECRET, deadline=deadline
            )
