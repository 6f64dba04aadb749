"""Benchmark: the access-token route against ``/healthz``, on one served process, in one run.

``route_figures(base_url, ...)`` loads ``POST /api/connections/{id}/access-token`` (a fresh token:
the route's own cost, no refresh) and ``GET /healthz`` alternately on the same server, with wrk
when it is installed (a Lua script in a private temp folder carries the method and the key), else
with an httpx async load generator of the same shape. The ratio of their requests per second is
the route's cost against the cheapest route of the same server: the machine's noise divides out.

``main()`` starts everything for real: the sandbox as Zoho (a process), a SQLite vault in a temp
folder with a connection made through the service's connect flow, then ``zoho-invoice serve
--workers N`` (a process) on a free port. Its last line is::

    tool=wrk workers=1 route_rps=... healthz_rps=... route_ratio=... route_p99_ms=...
    healthz_p99_ms=... route_errors=0 healthz_errors=0

Run: ``.venv/bin/python bench/_route_load.py`` (``--workers 2 --duration 10 --concurrency 16``).
``bench/hot_path.py`` reports ``route_ratio=`` and ``route_p99_ms=`` from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from zoho_invoice._http import httpx

BENCH_DIR = Path(__file__).resolve().parent
TESTS_DIR = BENCH_DIR.parent / "tests"
WRK = shutil.which("wrk")
#: Segments per target: healthz, route, healthz, route... so drift hits both alike.
ROUNDS = 2

_LUA = """
wrk.method = "{method}"
wrk.body = ""
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ROUTE_LOAD requests=%d duration_us=%d p99_us=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass
class Segment:
    """One load segment's outcome."""

    requests: int
    seconds: float
    p99_ms: float
    errors: int


def _wrk_segment(
    url: str, method: str, headers: dict[str, str], duration: float, c: int
) -> Segment:
    assert WRK is not None
    with tempfile.TemporaryDirectory() as folder:  # 0700: the script holds the API key
        script = Path(folder) / "load.lua"
        lines = "\n".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
        )
        script.write_text(_LUA.format(method=method, headers=lines))
        script.chmod(0o600)
        threads = max(1, min(2, c))
        seconds = max(1, round(duration))
        answer = subprocess.run(
            [WRK, f"-t{threads}", f"-c{c}", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in answer.stdout.splitlines() if x.startswith("ROUTE_LOAD "))
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return Segment(
        requests=int(fields["requests"]),
        seconds=int(fields["duration_us"]) / 1e6,
        p99_ms=int(fields["p99_us"]) / 1000,
        errors=int(fields["errors"]),
    )


def _httpx_segment(
    url: str, method: str, headers: dict[str, str], duration: float, c: int
) -> Segment:
    """wrk's shape in Python: ``c`` connections each sending one request after another."""

    async def load() -> Segment:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            started = time.perf_counter()
            deadline = started + duration

            async def one_connection() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    try:
                        answer = await client.request(method, url, headers=headers)
                        ok = answer.status_code < 400
                    except httpx.TransportError:
                        ok = False
                    latencies.append(time.perf_counter() - sent)
                    errors += 0 if ok else 1

            await asyncio.gather(*(one_connection() for _ in range(c)))
            seconds = time.perf_counter() - started
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        return Segment(len(latencies), seconds, p99 * 1000, errors)

    return asyncio.run(load())


def load_tool() -> str:
    """``wrk`` when installed, else ``httpx``."""
    return "wrk" if WRK is not None else "httpx"


def route_figures(
    base_url: str,
    *,
    api_key: str,
    connection_id: str,
    duration: float,
    concurrency: int,
    tool: Literal["wrk", "httpx"] | None = None,
) -> dict[str, float]:
    """Requests per second and p99 of the access-token route and of ``/healthz``, loaded
    alternately (``ROUNDS`` segments each, ``duration`` seconds per target in all) on the
    server at ``base_url``; ``route_ratio`` = route ÷ healthz. ``tool``: ``load_tool()`` by
    default (wrk's segments last whole seconds: at least one each)."""
    segment = _wrk_segment if (tool or load_tool()) == "wrk" else _httpx_segment
    route = (
        f"{base_url}/api/connections/{connection_id}/access-token",
        "POST",
        {"Authorization": f"Bearer {api_key}"},
    )
    healthz = (f"{base_url}/healthz", "GET", {})
    done: dict[str, list[Segment]] = {"route": [], "healthz": []}
    for i in range(ROUNDS):
        order = [("healthz", healthz), ("route", route)]
        for name, (url, method, headers) in order if i % 2 == 0 else order[::-1]:
            done[name].append(segment(url, method, headers, duration / ROUNDS, concurrency))

    def rps(name: str) -> float:
        return sum(s.requests for s in done[name]) / sum(s.seconds for s in done[name])

    route_rps, healthz_rps = rps("route"), rps("healthz")
    return {
        "route_rps": route_rps,
        "healthz_rps": healthz_rps,
        "route_ratio": route_rps / healthz_rps,
        # The worse segment's: a p99 cannot be averaged.
        "route_p99_ms": max(s.p99_ms for s in done["route"]),
        "healthz_p99_ms": max(s.p99_ms for s in done["healthz"]),
        "route_errors": float(sum(s.errors for s in done["route"])),
        "healthz_errors": float(sum(s.errors for s in done["healthz"])),
    }


# --- main(): everything real, started here ------------------------------------------------------

API_KEY = "route-bench-api-key-" + "0123456789abcdef" * 2
OWNER = "route-bench"


def _helpers() -> None:
    """The tests' flow helpers (``flows``, ``support``) and bulk_pull's sandbox server."""
    for folder in (str(TESTS_DIR), str(BENCH_DIR)):
        if folder not in sys.path:
            sys.path.insert(0, folder)


@contextmanager
def served(workers: int) -> Iterator[tuple[str, str]]:
    """The sandbox, a vault with one connection, ``zoho-invoice serve --workers N``: yields
    (base_url, connection_id)."""
    _helpers()
    from bulk_pull import sandbox_server
    from starlette.testclient import TestClient

    from flows import PUBLIC_URL, connect_via_web
    from support import free_port
    from zoho_invoice import Settings
    from zoho_invoice.vault import KeyRing
    from zoho_invoice.web import create_app
    from zoho_invoice_sandbox import datacenters_table

    with sandbox_server() as sandbox, tempfile.TemporaryDirectory() as folder:
        dcs = Path(folder) / "dcs.json"
        dcs.write_text(json.dumps(datacenters_table(sandbox)))
        settings = Settings(
            client_id="1000.ROUTEBENCH",
            client_secret="route-bench-client-secret",
            redirect_uri=PUBLIC_URL + "/callback",
            encryption_keys=KeyRing.generate_entry(),
            api_key=API_KEY,
            datacenters=dcs,
            data_dir=Path(folder) / "data",
            public_url=PUBLIC_URL,
        )
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
            connection_id = connect_via_web(web, sandbox, api_key=API_KEY, owner=OWNER)
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
                "ZOHO_DATACENTERS": str(dcs),
                "ZOHO_DATA_DIR": str(settings.data_dir),
                "ZOHO_PUBLIC_URL": PUBLIC_URL,
            }
        )
        port = free_port()
        command = [sys.executable, "-c", "from zoho_invoice.cli import main; main()", "serve"]
        command += ["--port", str(port)]
        if workers != 1:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("zoho-invoice serve did not start")
                time.sleep(0.05)
            yield base, connection_id
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def line(figures: dict[str, float], *, tool: str, workers: int) -> str:
    """The summary line: ``key=value`` figures."""
    parts = [f"tool={tool}", f"workers={workers}"]
    for key in ("route_rps", "healthz_rps"):
        parts.append(f"{key}={figures[key]:.0f}")
    parts.append(f"route_ratio={figures['route_ratio']:.3f}")
    for key in ("route_p99_ms", "healthz_p99_ms"):
        parts.append(f"{key}={figures[key]:.1f}")
    for key in ("route_errors", "healthz_errors"):
        parts.append(f"{key}={figures[key]:.0f}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    with served(args.workers) as (base, connection_id):
        # One call first: the fresh token is then the steady state being measured.
        answer = httpx.post(
            f"{base}/api/connections/{connection_id}/access-token",
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        answer.raise_for_status()
        figures = route_figures(
            base,
            api_key=API_KEY,
            connection_id=connection_id,
            duration=args.duration,
            concurrency=args.concurrency,
        )
    print(line(figures, tool=load_tool(), workers=args.workers), flush=True)
    return 0 if figures["route_errors"] == 0 and figures["healthz_errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
