"""Integration test in a real Redis with real processes: after one process meets Zoho's code 44
for an organization, another process sharing the Redis budget waits before sending for it.

Each process runs the Invoice API client (sync, or async through ``redis.asyncio``) with a
``RedisRequestBudget``; Zoho is a scripted ``httpx.MockTransport`` inside each process. Needs
``ZOHO_TEST_REDIS_URL``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis

pytestmark = pytest.mark.redis

# One process: a client of organization ``argv[3]`` whose every request Zoho answers with
# ``argv[4]`` (``limited``: 429 code 44 with Retry-After 30; ``ok``: an empty contact list).
# With ``wait`` it first reads a line from stdin, so it is running before the other one pauses.
# ``argv[6]`` is ``sync`` or ``async``: which client. It prints what it slept and what it got.
_CHILD = """
import asyncio, json, sys
from zoho_invoice._http import httpx
from zoho_invoice.api import (
    AsyncZohoInvoice, InProcessQuotaBlocks, IPThrottle, RedisRequestBudget, ZohoInvoice
)
from zoho_invoice import RateLimitError

url, prefix, org, answer, wait, mode = sys.argv[1:7]
budget = RedisRequestBudget.from_url(url, rate=90, window=60, burst=5, prefix=prefix)

def zoho(request):
    if answer == "limited":
        return httpx.Response(
            429, json={"code": 44, "message": "too many"}, headers={"Retry-After": "30"}
        )
    return httpx.Response(200, json={"code": 0, "message": "success", "contacts": []})

slept = []
options = dict(
    access_token="1000.tok.en",
    organization_id=org,
    budget=budget,
    max_retries=0,
    quota_blocks=InProcessQuotaBlocks(),
    ip_throttle=IPThrottle(),
)
if wait == "wait":
    print("ready", flush=True)
    sys.stdin.readline()

async def pull_async():
    async def sleep(seconds):
        slept.append(seconds)
    transport = httpx.MockTransport(zoho)
    async with AsyncZohoInvoice(
        http_client=httpx.AsyncClient(transport=transport), sleep=sleep, **options
    ) as client:
        try:
            await client.contacts.list()
        finally:
            await budget.aclose()

try:
    if mode == "async":
        asyncio.run(pull_async())
    else:
        client = ZohoInvoice(
            http_client=httpx.Client(transport=httpx.MockTransport(zoho)),
            sleep=slept.append,
            **options,
        )
        client.contacts.list()
    outcome = "ok"
except RateLimitError as exc:
    outcome = f"code {exc.code}"
print(json.dumps({"slept": slept, "outcome": outcome}), flush=True)
"""


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"zoho-invoice-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


def _start(redis_url: str, prefix: str, org: str, answer: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, redis_url, prefix, org, answer, "wait", mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = process.communicate("go\n", timeout=60)
    assert process.returncode == 0
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("limited_mode", "waiting_mode"),
    [("sync", "sync"), ("async", "async"), ("async", "sync"), ("sync", "async")],
)
def test_a_44_in_one_process_holds_the_other_back(
    redis_url: str, prefix: str, limited_mode: str, waiting_mode: str
) -> None:
    """Process A meets a 44 and gives up at once (no retries, as the web service does); process
    B, already running, then waits Zoho's 30 s before it sends for that organization; process C
    sends for another organization without waiting. Sync and async clients alike: the async
    one pauses and reserves through ``redis.asyncio``, on the same keys."""
    waiting = _start(redis_url, prefix, "org-1", "ok", waiting_mode)
    other = _start(redis_url, prefix, "org-2", "ok", waiting_mode)
    for process in (waiting, other):
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"

    limited = subprocess.run(
        [sys.executable, "-c", _CHILD, redis_url, prefix, "org-1", "limited", "now", limited_mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(limited.stdout.splitlines()[-1]) == {"slept": [], "outcome": "code 44"}

    held = _finish(waiting)
    assert held["outcome"] == "ok"
    slept = held["slept"]
    assert isinstance(slept, list) and len(slept) == 1 and 25.0 < slept[0] <= 30.0
    assert _finish(other) == {"slept": [], "outcome": "ok"}
