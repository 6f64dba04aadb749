"""End-to-end smoke test of bench/bulk_pull.py with a tiny N: a real sandbox process on a free
port, a paced pull, and the summary line's fields."""

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
