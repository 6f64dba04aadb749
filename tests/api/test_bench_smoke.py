"""End-to-end smoke tests of bench/bulk_pull.py and bench/loop_lag.py with tiny sizes: a real
sandbox process on a free port (and, for the loop's lag, a real Redis), the pulls, and the
summary line's fields (functional fields only, never a speed threshold)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bulk_pull.py"


@pytest.mark.e2e
def test_bench_bulk_pull_small() -> None:
    spec = importlib.util.spec_from_file_location("bulk_pull", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bulk_pull"] = module
    try:
        spec.loader.exec_module(module)
        result = module.run(1_100, 1.0, verbose=False)
    finally:
        sys.modules.pop("bulk_pull", None)
    assert result.invoices == 1_100
    assert result.calls == result.min_calls == 6
    assert result.throttled == 0
    # Speed and memory are the benchmark's to report (docs/benchmarks.md), not a test's to judge.
    line = result.line()
    for field in (
        "calls=",
        "min_calls=",
        "throttled=",
        "rate_ratio=",
        "rss_growth_mb=",
        "overhead_ratio=",
    ):
        assert field in line


LOOP_LAG = Path(__file__).resolve().parents[2] / "bench" / "loop_lag.py"


@pytest.mark.e2e
@pytest.mark.redis
def test_bench_loop_lag_small(redis_url: str) -> None:
    """bench/loop_lag.py with tiny sizes: every pull of every setup reads every invoice, and
    the summary line has its fields (the lag itself is the benchmark's to report)."""
    spec = importlib.util.spec_from_file_location("loop_lag", LOOP_LAG)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loop_lag"] = module
    try:
        spec.loader.exec_module(module)
        result = module.run(3, 30, 1, redis_url=redis_url, verbose=False)
    finally:
        sys.modules.pop("loop_lag", None)
        sys.modules.pop("bulk_pull", None)
    assert result.pulls == 3
    assert result.invoices == 3 * 30  # run() also checks every setup pulled them all
    assert result.calls == 3  # one page of 30 per pull
    line = result.line()
    for name in (
        "loop_lag_p99_ms=",
        "loop_lag_max_ms=",
        "pulls=3",
        "calls=3",
        "sync_redis_lag_p99_ms=",
        "no_budget_lag_p99_ms=",
        "ticks=",
    ):
        assert name in line
