"""Integration test: the service under a real uvicorn server with uvicorn's default logging
configuration (in process, on a free port). The access log shows each request line, and must
show no code, state or connect token, and raise no logging error (SECURITY 38)."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from support import free_port
from zoho_invoice._http import httpx

CODE = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
STATE = "StAtEvAlUe_abcdefghijklmnopqrstuvwxyz0123456"
SESSION = "SeSsIoNtOkEn_abcdefghijklmnopqrstuvwxyz01234"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
def restore_uvicorn_logging() -> Iterator[None]:
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
        for name in UVICORN_LOGGERS
    }
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_s38_uvicorn_access_log_shows_no_code_state_or_token(
    harness, capsys: pytest.CaptureFixture[str], restore_uvicorn_logging: None
) -> None:
    port = free_port()
    config = uvicorn.Config(
        harness.app,
        host="127.0.0.1",
        port=port,
        log_config=copy.deepcopy(LOGGING_CONFIG),  # streams bound now: to capsys's
        access_log=True,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            callback = client.get("/callback", params={"code": CODE, "state": STATE})
            connect = client.get(f"/connect/{SESSION}", follow_redirects=False)
            evil = client.get("/healthz", params={"token": "secret\r\nFAKE 200"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert callback.status_code == 400 and connect.status_code == 400
    assert evil.status_code == 200
    out, err = capsys.readouterr()
    log = out + err
    assert '"GET /callback?' in log  # the access log did log the requests
    assert "/connect/" in log
    assert "Logging error" not in log and "Traceback" not in log
    for secret in (CODE, STATE, SESSION, "fedcba9876543210", "secret"):
        assert secret not in log, secret
    assert "\r\nFAKE" not in log
