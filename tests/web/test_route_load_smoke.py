"""End-to-end smoke test of bench/_route_load.py with tiny sizes: the sandbox and ``zoho-invoice
serve`` as real processes, a connection made through the flow, both load generators (wrk and the
httpx fallback) against the access-token route and ``/healthz``, and the summary line's fields.

Speed is the benchmark's to report (docs/benchmarks.md), never this test's to judge.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "_route_load.py"
FIELDS = (
    "route_rps",
    "healthz_rps",
    "route_ratio",
    "route_p99_ms",
    "healthz_p99_ms",
    "route_errors",
    "healthz_errors",
)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_route_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_route_load"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_bench_route_load_small() -> None:
    try:
        bench = _bench()
        tools = ["httpx", *(["wrk"] if bench.load_tool() == "wrk" else [])]
        with bench.served(1) as (base, connection_id):
            for tool in tools:
                figures = bench.route_figures(
                    base,
                    api_key=bench.API_KEY,
                    connection_id=connection_id,
                    duration=0.4,
                    concurrency=2,
                    tool=tool,
                )
                assert set(FIELDS) <= set(figures), tool
                # Every request of both routes was answered 2xx: the route served real tokens.
                assert figures["route_errors"] == 0 and figures["healthz_errors"] == 0, tool
                assert figures["route_rps"] > 0 and figures["healthz_rps"] > 0, tool
                line = bench.line(figures, tool=tool, workers=1)
                assert line.startswith(f"tool={tool} workers=1 ")
                assert all(f"{field}=" in line for field in FIELDS)
    finally:
        for name in ("_route_load", "bulk_pull"):
            sys.modules.pop(name, None)
