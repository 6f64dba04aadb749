"""Benchmark: pull every invoice of a large organization through the client, within Zoho's limit.

Starts the sandbox as a real server (uvicorn in a subprocess) on a free port, seeds N invoices,
sets the real 100-requests-a-minute limit in a shortened window (100 per 6 s by default), and pulls
everything with ``ZohoInvoice.invoices.iter_all()``. In the same run it times raw httpx requests to
the same pages (limits lifted) to measure the client's own overhead. The last line is::

    calls=<n> min_calls=<ceil(N/200)> throttled=<429s> rate_ratio=<achieved/allowed>
    rss_growth_mb=<peak RSS growth> overhead_ratio=<client time per request / raw per request>

Run: ``.venv/bin/python bench/bulk_pull.py`` (``--invoices 20000 --window 6``).
"""

from __future__ import annotations

import argparse
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
from zoho_invoice.api import TokenBucketBudget, ZohoInvoice

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

    def line(self) -> str:
        return (
            f"calls={self.calls} min_calls={self.min_calls} throttled={self.throttled} "
            f"rate_ratio={self.rate_ratio:.3f} rss_growth_mb={self.rss_growth_mb:.1f} "
            f"overhead_ratio={self.overhead_ratio:.3f}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_server() -> Iterator[str]:
    """The sandbox under uvicorn in its own process; yields its base URL."""
    port = _free_port()
    code = (
        "from zoho_invoice.sandbox import serve_sandbox; "
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


def mint_token(http: httpx.Client) -> tuple[str, str, str]:
    """A real access token from the sandbox's Accounts: (token, api_domain, organization_id)."""
    users = http.get("/_sandbox/users").json()
    users = users.get("users", users) if isinstance(users, dict) else users
    user = next(u for u in users if u.get("location") == "us" and u.get("organization_ids"))
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
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
    return body["access_token"], body["api_domain"], user["organization_ids"][0]


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
        token, api_domain, org = mint_token(control)
        lifted = control.put("/api/_sandbox/limits", json={"per_minute": 10**6, "daily": 10**7})
        lifted.raise_for_status()
        started = time.perf_counter()
        answer = control.post(
            "/api/_sandbox/seed",
            json={"organization_id": org, "contacts": 50, "items": 20, "invoices": invoices},
        )
        if answer.status_code != 201:
            raise RuntimeError(f"seeding failed: HTTP {answer.status_code} {answer.text[:300]}")
        seeded = answer.json()
        say(f"seeded {seeded.get('invoices')} invoices in {time.perf_counter() - started:.1f}s")

        headers = {
            "Authorization": f"Zoho-oauthtoken {token}",
            "X-com-zoho-invoice-organizationid": org,
        }
        url = api_domain + "/invoice/v3/invoices"
        # Raw httpx: the same pages, decoded as JSON (no models), limits lifted but paced by the
        # same budget as the client, so both run under the same conditions (a server that idles
        # between paced requests answers a little slower than one hammered back to back).
        raw_budget = TokenBucketBudget(rate=ALLOWED - 5, window=window, burst=5)
        raw_times: list[float] = []
        with httpx.Client(timeout=60) as raw:
            raw.get(url, params={"page": 1, "per_page": PER_PAGE}, headers=headers)  # warm-up
            for page in range(1, min_calls + 1):
                time.sleep(raw_budget.reserve(org))
                began = time.perf_counter()
                response = raw.get(
                    url, params={"page": page, "per_page": PER_PAGE}, headers=headers
                )
                response.raise_for_status()
                response.json()
                raw_times.append(time.perf_counter() - began)
            raw_per_request = statistics.median(raw_times)
        say(f"raw httpx: {raw_per_request * 1000:.1f} ms per page (median)")

        control.put(
            "/api/_sandbox/limits",
            json={"per_minute": ALLOWED, "window_seconds": window, "daily": 10**7},
        )
        control.delete("/api/_sandbox/usage")

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
        http = httpx.Client(timeout=60, event_hooks={"response": [count, rss.sample]})
        pulled = 0
        with ZohoInvoice(
            access_token=token,
            api_domain=api_domain,
            organization_id=org,
            http_client=http,
            budget=budget,
        ) as client:
            client._sleep = sleep
            page_times: list[float] = []
            pull_started = time.perf_counter()
            pages = client.invoices.iter_all().pages()
            while True:
                # One page through the client (budget, auth, send, parse), minus the budget's
                # pacing; the items are then streamed and dropped, as a caller would.
                began, waited_before = time.perf_counter(), waited
                page = next(pages, None)
                if page is None:
                    break
                page_times.append(time.perf_counter() - began - (waited - waited_before))
                for _invoice in page:
                    pulled += 1
                del page
            elapsed = time.perf_counter() - pull_started
        rss.sample()
        http.close()
        say(
            f"pulled {pulled} invoices in {elapsed:.1f}s ({waited:.1f}s waiting for the budget), "
            f"client {statistics.median(page_times) * 1000:.1f} ms per page (median)"
        )

    achieved = calls / elapsed
    allowed = ALLOWED / window
    # Medians: the machine's noise (other processes) shows up as outliers, not as overhead.
    client_per_request = statistics.median(page_times)
    return Result(
        invoices=pulled,
        calls=calls,
        min_calls=min_calls,
        throttled=throttled,
        rate_ratio=achieved / allowed,
        rss_growth_mb=rss.growth_mb,
        overhead_ratio=client_per_request / raw_per_request,
        seconds=elapsed,
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
