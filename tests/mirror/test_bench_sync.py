"""End-to-end smoke test of bench/sync.py with tiny sizes: a real sandbox process on a free port,
an initial sync and a steady-state one after edits, and the summary line's fields (issue 10).
Functional fields only: speed and memory are the benchmark's to report, not a test's to judge."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sync.py"


@pytest.mark.e2e
def test_bench_sync_small() -> None:
    spec = importlib.util.spec_from_file_location("bench_sync", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sync"] = module
    try:
        spec.loader.exec_module(module)
        result = module.run(210, 3, 0.5, verbose=False)
    finally:
        sys.modules.pop("bench_sync", None)
        sys.modules.pop("bulk_pull", None)
    assert result.mirrored == 210
    # 210 rows: [0, 200) then 199 rows from row 199 - the anchored second read is the aligned
    # one's count (a third list call only past ~3,800 rows: bench figures in the report).
    assert result.initial_calls == result.initial_min_calls == 2 + 210
    assert result.anchor_calls == 0
    assert result.steady_calls == result.steady_min_calls == 1 + 3
    assert result.throttled == 0
    line = result.line()
    for field in (
        "initial_calls=",
        "initial_min_calls=",
        "steady_calls=",
        "steady_min_calls=",
        "anchor_calls=",
        "throttled=",
        "rate_ratio=",
        "rss_growth_mb=",
    ):
        assert field in line
