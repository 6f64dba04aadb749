"""Smoke test of bench/worker_scale.py with tiny sizes (integration, PostgreSQL): one cycle
refreshes only what is due, a simulated day probes each idle connection about once, and the
summary line has its fields. Speed is the benchmark's to report, not a test's to judge."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "worker_scale.py"


@pytest.mark.postgres
def test_bench_worker_scale_small(postgres_url: str) -> None:
    spec = importlib.util.spec_from_file_location("worker_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["worker_scale"] = module
    try:
        spec.loader.exec_module(module)
        result = module.run(400, in_use_fraction=0.05, sample=60, old_sample=10, step=900.0)
    finally:
        sys.modules.pop("worker_scale", None)
    assert result.connections == 400
    assert 0 < result.due < 40  # what is due, not the table
    assert result.old_due > 300  # the policy before counts every lapsed token as due
    assert 0.5 <= result.mints_per_idle_connection_per_day <= 1.5
    assert result.old_mints_per_idle_connection_per_day >= 20
    line = result.line()
    for field in (
        "connections=",
        "due=",
        "cycle_s=",
        "due_query_ms=",
        "old_query_ms=",
        "old_due=",
        "mints_per_idle_connection_per_day=",
        "old_mints_per_idle_connection_per_day=",
        "in_use_waits_per_day=",
    ):
        assert field in line
