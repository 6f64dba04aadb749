"""Benchmark: how late the async client lets its event loop run other work while it pulls.

Starts the sandbox as a real server (uvicorn in a subprocess) on a free port, seeds two
organizations, and runs ``--pulls`` concurrent pulls (``AsyncZohoInvoice.invoices.iter_all()``,
every page) on one event loop, each client with a ``RedisRequestBudget`` and Redis quota blocks
on a real Redis (``--redis-url``, else ``ZOHO_TEST_REDIS_URL``, ``ZOHO_REDIS_URL``, local). A
ticker task on the same loop asks to wake every 10 ms and records how late each wake-up is: the
loop's lag, what every other task of the loop (a web request, a heartbeat) would wait.

Three setups run side by side in the same run, in interleaved rounds, so the machine's noise
falls on all of them alike:

- ``async``: the client as it is: the budget and the blocks through ``redis.asyncio``.
- ``sync_redis``: the same Redis budget and blocks called synchronously on the loop (what the
  async client did before: ``reserve``, ``blocked_until`` and ``pause`` on the loop's thread).
- ``no_budget``: no budget and in-process blocks: the floor (parsing pages, httpx).

The wall-clock lag is what the machine gives: on shared cores a runnable process may wait long
for one, whatever its loop does. So each tick also records the longest CPU time (this thread's)
that one loop step held the loop while the ticker slept (``*_step_cpu_*``): the lag the loop's
own work causes, whatever the machine's load. A warm-up round of each setup runs first, not
counted. ``--gc-freeze`` calls ``gc.freeze()`` after it (a full collection then skips the
objects of start-up, as in a service that freezes them once it has started).

The last line is::

    loop_lag_p99_ms=<async> loop_lag_max_ms=<async> pulls=<n> calls=<async requests>
    sync_redis_lag_p99_ms=... sync_redis_lag_max_ms=... no_budget_lag_p99_ms=...
    no_budget_lag_max_ms=... <setup>_step_cpu_p99_ms=... <setup>_step_cpu_max_ms=...
    ticks=<async ticks> gc_freeze=<0|1> alone_lag_p99_ms=... alone_lag_max_ms=...
    async_late_cpu_p99_ms=...
    gc_full_per_round=<async> gc_full_max_ms=<async> gc_young_max_ms=<async>

``alone_*``: after each async round, the same ticker alone on this process's loop while the
same 50 pulls run in another process (the same sandbox, the same machine load, none of the
client's work on this loop): the floor the machine sets. ``async_late_cpu_p99_ms``: per tick,
the CPU time of the loop's own steps that ran after the tick was due (the batch it waited
behind), p99: the part of the lag that is the loop's work rather than a wait for a core.
``gc_*``: the collector's pauses during the async rounds (``gc.callbacks``): full passes per
round, the longest full pass, the longest young (generation 0 or 1) pass. Each pull consumes
its pages and lets them go, as a streaming application does; the iterator holds none of them
through the next request.

Run: ``.venv/bin/python bench/loop_lag.py`` (``--pulls 50 --invoices 1000 --rounds 3``); pages are
200 invoices, as ``iter_all`` asks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_pull import mint_token, sandbox_server

from zoho_invoice._http import httpx
from zoho_invoice.api import (
    AsyncQuotaBlocks,
    AsyncRequestBudget,
    AsyncZohoInvoice,
    InProcessQuotaBlocks,
    IPThrottle,
    QuotaBlocks,
    RedisQuotaBlocks,
    RedisRequestBudget,
    RequestBudget,
    UnlimitedBudget,
)
from zoho_invoice.api._quota import LayeredQuotaBlocks

TICK = 0.010
MODES = ("async", "sync_redis", "no_budget")
#: A ticker alone on its loop, for as long as the async round took: the machine's floor.
ALONE = "alone"

#: The CPU time (this thread's) of every step the event loop ran, as it ends: the machine's load
#: stretches wall-clock lag (on 2 shared cores a runnable process may wait 100 ms for a core),
#: never the CPU time a step holds the loop for.
STEP_CPU: list[float] = []
#: When each of those steps ended (``perf_counter``).
STEP_END: list[float] = []
_run_step = asyncio.events.Handle._run


def _timed_step(handle: asyncio.events.Handle) -> None:
    began = time.thread_time()
    try:
        _run_step(handle)
    finally:
        STEP_CPU.append(time.thread_time() - began)
        STEP_END.append(time.perf_counter())


asyncio.events.Handle._run = _timed_step  # type: ignore[method-assign]


class CollectorPauses:
    """Every pause of Python's cyclic collector (``gc.callbacks``), by generation, for the setup
    running now: the full (generation 2) passes are the long ones, and their cost grows with
    every tracked object alive, the pages a pull holds included."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.pauses: dict[str, dict[int, list[float]]] = {}
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self.mode is not None:
            paused = time.perf_counter() - self._began
            per_mode = self.pauses.setdefault(self.mode, {0: [], 1: [], 2: []})
            per_mode[info["generation"]].append(paused)


PAUSES = CollectorPauses()


class SyncOnLoopBudget:
    """The budget as the async client used it before: the sync calls, on the loop's thread."""

    def __init__(self, budget: RequestBudget) -> None:
        self._budget = budget
        self.window = budget.window

    async def areserve(self, key: str) -> float:
        return self._budget.reserve(key)

    async def apause(self, key: str, seconds: float) -> bool:
        return self._budget.pause(key, seconds)


class SyncOnLoopBlocks:
    """The quota blocks as the async client used them before: sync, on the loop's thread."""

    def __init__(self, blocks: QuotaBlocks) -> None:
        self._blocks = blocks

    async def ablock(self, key: str, until: float) -> None:
        self._blocks.block(key, until)

    async def ablocked_until(self, key: str) -> float | None:
        return self._blocks.blocked_until(key)


@dataclass
class Lags:
    """Every tick's lateness (seconds) and the requests sent, per setup."""

    lags: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in (*MODES, ALONE)})
    #: Per tick: the longest CPU time one loop step held the loop while the ticker slept.
    held: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in (*MODES, ALONE)})
    #: Per tick: the CPU time of the loop's own steps that ran after the tick was due.
    late: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    pulled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))


@dataclass
class Result:
    pulls: int
    calls: int
    invoices: int
    p99_ms: dict[str, float]
    max_ms: dict[str, float]
    held_p99_ms: dict[str, float]
    held_max_ms: dict[str, float]
    ticks: int
    gc_freeze: bool
    alone_p99_ms: float
    alone_max_ms: float
    #: p99 of the CPU time the loop's own steps ran after a tick was due (async setup).
    late_cpu_p99_ms: float
    #: The async setup's collector: full passes per round, the longest pause of any generation.
    gc_full_per_round: float
    gc_full_max_ms: float
    gc_young_max_ms: float

    def line(self) -> str:
        return (
            f"loop_lag_p99_ms={self.p99_ms['async']:.2f} "
            f"loop_lag_max_ms={self.max_ms['async']:.2f} pulls={self.pulls} calls={self.calls} "
            f"sync_redis_lag_p99_ms={self.p99_ms['sync_redis']:.2f} "
            f"sync_redis_lag_max_ms={self.max_ms['sync_redis']:.2f} "
            f"no_budget_lag_p99_ms={self.p99_ms['no_budget']:.2f} "
            f"no_budget_lag_max_ms={self.max_ms['no_budget']:.2f} "
            + " ".join(
                f"{mode}_step_cpu_p99_ms={self.held_p99_ms[mode]:.2f} "
                f"{mode}_step_cpu_max_ms={self.held_max_ms[mode]:.2f}"
                for mode in MODES
            )
            + f" ticks={self.ticks} gc_freeze={int(self.gc_freeze)}"
            f" alone_lag_p99_ms={self.alone_p99_ms:.2f} alone_lag_max_ms={self.alone_max_ms:.2f}"
            f" async_late_cpu_p99_ms={self.late_cpu_p99_ms:.2f}"
            f" gc_full_per_round={self.gc_full_per_round:.1f}"
            f" gc_full_max_ms={self.gc_full_max_ms:.2f} gc_young_max_ms={self.gc_young_max_ms:.2f}"
        )


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def _ticker(
    lags: list[float], held: list[float], stop: asyncio.Event, late: list[float] | None = None
) -> None:
    """Asks to wake every 10 ms; records how much later than asked each wake-up came, and the
    longest CPU time a single loop step took meanwhile."""
    while not stop.is_set():
        first = len(STEP_CPU)
        asked = time.perf_counter()
        await asyncio.sleep(TICK)
        woke = time.perf_counter()
        lags.append(max(0.0, woke - asked - TICK))
        held.append(max(STEP_CPU[first:], default=0.0))
        if late is not None:
            # The loop's own work that ran after this tick was due: the CPU of the steps that
            # ended past the deadline (they ran in the batch the tick waited behind).
            due = asked + TICK
            ends = STEP_END[first:]
            late.append(sum(c for c, e in zip(STEP_CPU[first:], ends, strict=False) if e > due))


async def _round(
    mode: str,
    *,
    pulls: int,
    token: str,
    api_domain: str,
    organizations: tuple[str, str],
    redis_url: str,
    prefix: str,
    into: Lags,
) -> None:
    budget: AsyncRequestBudget
    blocks: AsyncQuotaBlocks
    shared_budget = RedisRequestBudget.from_url(
        redis_url, rate=10**6, window=60.0, burst=10**6, prefix=prefix + "budget:"
    )
    shared_blocks = RedisQuotaBlocks.from_url(redis_url, prefix=prefix + "block:")
    if mode == "async":
        budget = shared_budget
        blocks = LayeredQuotaBlocks(shared_blocks, InProcessQuotaBlocks())
    elif mode == "sync_redis":
        budget = SyncOnLoopBudget(shared_budget)
        blocks = SyncOnLoopBlocks(LayeredQuotaBlocks(shared_blocks, InProcessQuotaBlocks()))
    else:
        budget = UnlimitedBudget()
        blocks = InProcessQuotaBlocks()

    async def count(_response: httpx.Response) -> None:
        into.calls[mode] += 1

    http = httpx.AsyncClient(timeout=120, event_hooks={"response": [count]})
    clients = [
        AsyncZohoInvoice(
            access_token=token,
            api_domain=api_domain,
            organization_id=organizations[n % 2],
            http_client=http,
            budget=budget,
            quota_blocks=blocks,
            ip_throttle=IPThrottle(),
        )
        for n in range(pulls)
    ]

    async def pull(client: AsyncZohoInvoice) -> None:
        async for page in client.invoices.iter_all().pages():  # 200 a page, Zoho's most
            into.pulled[mode] += len(page)  # what an application does with the page
            del page  # ... and then it lets the page go, as a streaming pull does

    stop = asyncio.Event()
    ticker = asyncio.create_task(
        _ticker(into.lags[mode], into.held[mode], stop, into.late.setdefault(mode, []))
    )
    try:
        await asyncio.gather(*(pull(client) for client in clients))
    finally:
        stop.set()
        await ticker
        await http.aclose()
        await shared_budget.aclose()
        await shared_blocks.aclose()


async def _ticker_beside(command: list[str], into: Lags) -> None:
    """The floor: the same ticker alone on this loop while the same pulls run in another
    process (``command``) against the same sandbox: the machine's load is the same, the
    client's work is not on this loop. Whatever lag this ticker meets is the machine's."""
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    await process.stdout.readline()  # warmed up; it pulls from now on
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(into.lags[ALONE], into.held[ALONE], stop))
    if await process.wait() != 0:
        raise RuntimeError("the pulling process failed")
    stop.set()
    await ticker


def _load_only(config: str) -> int:
    """``--load-only``: the pulls of one round with no ticker, for ``_ticker_beside``."""
    given = json.loads(config)
    into = Lags()

    def one(pulls: int) -> None:
        asyncio.run(
            _round(
                "no_budget",
                pulls=pulls,
                token=given["token"],
                api_domain=given["api_domain"],
                organizations=(given["org"], given["twin"]),
                redis_url=given["redis_url"],
                prefix=given["prefix"],
                into=into,
            )
        )

    one(2)
    print("ready", flush=True)
    one(given["pulls"])
    return 0


def _redis_url(given: str | None) -> str:
    return (
        given
        or os.environ.get("ZOHO_TEST_REDIS_URL")
        or os.environ.get("ZOHO_REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )


def run(
    pulls: int,
    invoices: int,
    rounds: int,
    *,
    redis_url: str | None = None,
    gc_freeze: bool = False,
    verbose: bool = True,
) -> Result:
    def say(text: str) -> None:
        if verbose:
            print(text, file=sys.stderr, flush=True)

    url = _redis_url(redis_url)
    prefix = f"zoho-invoice-bench:{uuid.uuid4().hex}:"
    lags = Lags()
    with sandbox_server() as base, httpx.Client(base_url=base, timeout=120) as control:
        token, api_domain, org, twin = mint_token(control)
        lifted = {"per_minute": 10**7, "daily": 10**8, "concurrent": 100}
        control.put("/api/_sandbox/limits", json=lifted).raise_for_status()
        for organization in (org, twin):
            answer = control.post(
                "/api/_sandbox/seed",
                json={"organization_id": organization, "contacts": 20, "invoices": invoices},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"seeding failed: HTTP {answer.status_code}")
        say(f"seeded {invoices} invoices in each of 2 organizations")

        def one_round(mode: str, pulls: int, into: Lags) -> None:
            asyncio.run(
                _round(
                    mode,
                    pulls=pulls,
                    token=token,
                    api_domain=api_domain,
                    organizations=(org, twin),
                    redis_url=url,
                    prefix=prefix,
                    into=into,
                )
            )

        load_command = [
            sys.executable,
            __file__,
            "--load-only",
            json.dumps(
                {
                    "token": token,
                    "api_domain": api_domain,
                    "org": org,
                    "twin": twin,
                    "redis_url": url,
                    "prefix": prefix,
                    "pulls": pulls,
                }
            ),
        ]
        try:
            # A warm-up of each setup, not counted: what a process does once (its models'
            # validators, its first connections), a service that has served before has done.
            for mode in MODES:
                one_round(mode, 2, Lags())
            if gc_freeze:
                gc.freeze()  # start-up's objects leave the collector's full passes
            for number in range(rounds):
                # Rotate the order so no setup always runs first (a warmer cache, a cooler CPU).
                order = MODES[number % 3 :] + MODES[: number % 3]
                for mode in order:
                    began = time.perf_counter()
                    PAUSES.mode = mode
                    one_round(mode, pulls, lags)
                    PAUSES.mode = None
                    took = time.perf_counter() - began
                    say(f"round {number + 1} {mode}: {took:.1f}s")
                    if mode == "async":
                        asyncio.run(_ticker_beside(load_command, lags))
        finally:
            cleanup = redis.Redis.from_url(url)
            for key in cleanup.scan_iter(f"{prefix}*"):
                cleanup.delete(key)
            cleanup.close()
    collected = PAUSES.pauses.get("async", {0: [], 1: [], 2: []})
    expected = invoices * pulls * rounds  # each pull reads every invoice of one organization
    if any(lags.pulled[mode] != expected for mode in MODES):
        raise RuntimeError(f"pulled {lags.pulled}, expected {expected} in each setup")
    return Result(
        pulls=pulls,
        calls=lags.calls["async"] // rounds,
        invoices=lags.pulled["async"] // rounds,
        p99_ms={mode: _p99(lags.lags[mode]) * 1000 for mode in MODES},
        max_ms={mode: max(lags.lags[mode], default=0.0) * 1000 for mode in MODES},
        held_p99_ms={mode: _p99(lags.held[mode]) * 1000 for mode in MODES},
        held_max_ms={mode: max(lags.held[mode], default=0.0) * 1000 for mode in MODES},
        ticks=len(lags.lags["async"]),
        gc_freeze=gc_freeze,
        alone_p99_ms=_p99(lags.lags[ALONE]) * 1000,
        alone_max_ms=max(lags.lags[ALONE], default=0.0) * 1000,
        late_cpu_p99_ms=_p99(lags.late.get("async", [])) * 1000,
        gc_full_per_round=len(collected[2]) / rounds,
        gc_full_max_ms=max(collected[2], default=0.0) * 1000,
        gc_young_max_ms=max(collected[0] + collected[1], default=0.0) * 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pulls", type=int, default=50)
    parser.add_argument("--invoices", type=int, default=1000, help="per organization")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three setups")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up, as a latency-minded service does after start-up",
    )
    parser.add_argument("--load-only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_only is not None:
        return _load_only(args.load_only)
    result = run(
        args.pulls, args.invoices, args.rounds, redis_url=args.redis_url, gc_freeze=args.gc_freeze
    )
    print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
