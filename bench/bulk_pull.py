"""Benchmark: pull every invoice of a large organization through the client, within Zoho's limit.

Starts the sandbox as a real server (uvicorn in a subprocess) on a free port, seeds N invoices,
sets the real 100-requests-a-minute limit in a shortened window (100 per 6 s by default), and pulls
everything with ``ZohoInvoice.invoices.iter_all()`` (calls, 429s, rate, memory). Then, in the same
run with the limits lifted, it fetches every page again side by side: the client's page, then raw
httpx's (send and decode JSON) of the same page, each after the same short idle time, so both meet
the server in the same state; the ratio of their medians is the client's own overhead. The last
line is::

    calls=<n> min_calls=<ceil(N/200)> throttled=<429s> rate_ratio=<achieved/allowed>
    rss_growth_mb=<peak RSS growth> overhead_ratio=<client time per request / raw per request>
    parse_ms=<parse_page of one 200-invoice page> json_ms=<json.loads of the same bytes>
    parse_over_json=<their ratio>

``parse_ms`` and ``json_ms`` are measured in process on the same bytes (a page the sandbox
answered), alternately, the collector paused while timing: the models' own cost beside decoding.

Run: ``.venv/bin/python bench/bulk_pull.py`` (``--invoices 20000 --window 6``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import psutil

from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget, UnlimitedBudget, ZohoInvoice
from zoho_invoice.api._pagination import parse_page
from zoho_invoice.api.types import Invoice

CLIENT_ID = "1000.BENCH"
CLIENT_SECRET = "bench-secret"
REDIRECT = "http://bench.test/callback"
SCOPES = "ZohoInvoice.invoices.READ,ZohoInvoice.settings.READ"
PER_PAGE = 200
ALLOWED = 100  # Zoho's per-organization requests per window


@dataclass
class Result:
    invoices: int
    calls: int
    min_calls: int
    throttled: int
    rate_ratio: float
    rss_growth_mb: float
    overhead_ratio: float
    seconds: float
    parse_ms: float
    json_ms: float

    def line(self) -> str:
        return (
            f"calls={self.calls} min_calls={self.min_calls} throttled={self.throttled} "
            f"rate_ratio={self.rate_ratio:.3f} rss_growth_mb={self.rss_growth_mb:.1f} "
            f"overhead_ratio={self.overhead_ratio:.3f} parse_ms={self.parse_ms:.3f} "
            f"json_ms={self.json_ms:.3f} parse_over_json={self.parse_ms / self.json_ms:.2f}"
        )


def parse_against_json(content: bytes, rounds: int = 200) -> tuple[float, float]:
    """Median seconds of ``parse_page`` (typed models) and ``json.loads`` on the same page,
    alternately; the cyclic collector is paused while timing (its pauses fall on whichever
    call happens to run, and are the process's, not the parser's)."""
    parse_times: list[float] = []
    json_times: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            began = time.perf_counter()
            parse_page(content, "invoices", Invoice, page=1, per_page=PER_PAGE)
            parse_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            json.loads(content)
            json_times.append(time.perf_counter() - began)
    finally:
        gc.enable()
    return statistics.median(parse_times), statistics.median(json_times)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_server() -> Iterator[str]:
    """The sandbox under uvicorn in its own process; yields its base URL."""
    port = _free_port()
    code = (
        "from zoho_invoice_sandbox import serve_sandbox; "
        f"serve_sandbox('127.0.0.1', {port}, None, None)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/_sandbox/users", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def mint_token(http: httpx.Client, scopes: str = SCOPES) -> tuple[str, str, str, str]:
    """A real access token from the sandbox's Accounts for a us user with two organizations:
    (token, api_domain, organization_id, twin organization_id)."""
    users = http.get("/_sandbox/users").json()
    users = users.get("users", users) if isinstance(users, dict) else users
    user = next(
        u for u in users if u.get("location") == "us" and len(u.get("organization_ids", ())) >= 2
    )
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": scopes,
        "access_type": "offline",
        "prompt": "consent",
        "state": "bench",
    }
    answer = http.post(
        "/accounts/us/oauth/v2/auth",
        params=params,
        data={"user_id": user["user_id"], "decision": "approve"},
    )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    body = http.post(
        "/accounts/us/oauth/v2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
        },
    ).json()
    orgs = user["organization_ids"]
    return body["access_token"], body["api_domain"], orgs[0], orgs[1]


class PeakRSS:
    """This process's peak RSS growth, sampled after every response and at the end.

    Sampled in the pulling thread rather than by a busy sampler thread, which would compete for
    the GIL and distort the timing it sits beside. A page's models are alive when the next
    response arrives, so the samples see the high-water mark of the streaming.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss

    def sample(self, _response: object = None) -> None:
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def run(invoices: int, window: float, *, verbose: bool = True) -> Result:
    def say(text: str) -> None:
        if verbose:
            print(text, file=sys.stderr, flush=True)

    min_calls = math.ceil(invoices / PER_PAGE)
    with sandbox_server() as base, httpx.Client(base_url=base, timeout=120) as control:
        token, api_domain, org, _ = mint_token(control)
        lifted = {"per_minute": 10**6, "daily": 10**7}
        control.put("/api/_sandbox/limits", json=lifted).raise_for_status()
        started = time.perf_counter()
        answer = control.post(
            "/api/_sandbox/seed",
            json={"organization_id": org, "contacts": 50, "items": 20, "invoices": invoices},
        )
        if answer.status_code != 201:
            raise RuntimeError(f"seeding failed: HTTP {answer.status_code} {answer.text[:300]}")
        say(f"seeded {invoices} invoices in {time.perf_counter() - started:.1f}s")

        # 1. The pull, at Zoho's real limit in a short window.
        control.put(
            "/api/_sandbox/limits",
            json={"per_minute": ALLOWED, "window_seconds": window, "daily": 10**7},
        ).raise_for_status()
        control.delete("/api/_sandbox/usage").raise_for_status()
        calls = throttled = 0

        def count(response: httpx.Response) -> None:
            nonlocal calls, throttled
            calls += 1
            throttled += response.status_code == 429

        waited = 0.0

        def sleep(seconds: float) -> None:
            nonlocal waited
            waited += seconds
            time.sleep(seconds)

        # Zoho's 100 per window, spent as 95 paced plus a burst of 5: never over in any window.
        budget = TokenBucketBudget(rate=ALLOWED - 5, window=window, burst=5)
        rss = PeakRSS()
        pulled = 0
        with ZohoInvoice(
            access_token=token,
            api_domain=api_domain,
            organization_id=org,
            http_client=httpx.Client(timeout=60, event_hooks={"response": [count, rss.sample]}),
            budget=budget,
            sleep=sleep,
        ) as client:
            began = time.perf_counter()
            for page in client.invoices.iter_all().pages():
                for _invoice in page:  # streamed and dropped, as a caller would
                    pulled += 1
            elapsed = time.perf_counter() - began
        rss.sample()
        say(f"pulled {pulled} invoices in {elapsed:.1f}s ({waited:.1f}s waiting for the budget)")

        # 2. The overhead: the same pages through the client and raw httpx, side by side.
        control.put("/api/_sandbox/limits", json=lifted).raise_for_status()
        url = api_domain + "/invoice/v3/invoices"
        headers = {
            "Authorization": f"Zoho-oauthtoken {token}",
            "X-com-zoho-invoice-organizationid": org,
        }
        idle = window / ALLOWED / 2  # the gap a paced caller leaves between requests
        client_times: list[float] = []
        raw_times: list[float] = []
        with (
            ZohoInvoice(
                access_token=token,
                api_domain=api_domain,
                organization_id=org,
                budget=UnlimitedBudget(),
            ) as client,
            httpx.Client(timeout=60) as raw,
        ):
            # The warm-up; its answer (a full page, as the sandbox sent it) is parsed in process.
            first = raw.get(url, params={"page": 1, "per_page": PER_PAGE}, headers=headers).content
            client.invoices.list(page=1, per_page=PER_PAGE)
            for number in range(1, min_calls + 1):
                time.sleep(idle)
                began = time.perf_counter()
                client.invoices.list(page=number, per_page=PER_PAGE)
                client_times.append(time.perf_counter() - began)
                time.sleep(idle)
                began = time.perf_counter()
                response = raw.get(
                    url, params={"page": number, "per_page": PER_PAGE}, headers=headers
                )
                response.raise_for_status()
                response.json()
                raw_times.append(time.perf_counter() - began)
        parse_s, json_s = parse_against_json(first)
        say(
            f"per page (median): client {statistics.median(client_times) * 1000:.1f} ms "
            f"(send, check, parse into models), raw httpx {statistics.median(raw_times) * 1000:.1f}"
            f" ms (send, json); in process: parse_page {parse_s * 1000:.2f} ms, json.loads "
            f"{json_s * 1000:.2f} ms"
        )

    # Medians: the machine's noise (other processes) shows up as outliers, not as overhead.
    return Result(
        invoices=pulled,
        calls=calls,
        min_calls=min_calls,
        throttled=throttled,
        rate_ratio=(calls / elapsed) / (ALLOWED / window),
        rss_growth_mb=rss.growth_mb,
        overhead_ratio=statistics.median(client_times) / statistics.median(raw_times),
        seconds=elapsed,
        parse_ms=parse_s * 1000,
        json_ms=json_s * 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--window", type=float, default=6.0, help="seconds per 100 requests")
    args = parser.parse_args(argv)
    result = run(args.invoices, args.window)
    print(result.line(), flush=True)
    return 0 if result.invoices >= args.invoices else 1


if __name__ == "__main__":
    raise SystemExit(main())
