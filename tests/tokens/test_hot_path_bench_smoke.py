"""Smoke test of bench/hot_path.py with tiny sizes, as a real process: it runs on SQLite and
PostgreSQL, never asks Zoho for a refresh, and prints its last line with every field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import missing

BENCH = Path(__file__).resolve().parents[2] / "bench" / "hot_path.py"
FIELDS = (
    "hot_us_sqlite",
    "hot_us_postgres",
    "hot_us",
    "uncached_us_sqlite",
    "uncached_us_postgres",
    "full_read_us_sqlite",
    "full_read_us_postgres",
    "refreshes",
)


def test_bench_hot_path_small() -> None:
    if not os.environ.get("ZOHO_TEST_POSTGRES_URL"):
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--calls",
            "40",
            "--rounds",
            "1",
            "--batch",
            "10",
            "--route-seconds",
            "1",
            "--route-concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert set(FIELDS) <= set(fields)
    assert fields["refreshes"] == "0"  # a fresh token is never refreshed
    # Both databases were measured (a number, not "skipped"); how fast is the bench's to say.
    for name in FIELDS[:-1]:
        assert float(fields[name]) > 0, name
    # The served route was measured against /healthz on a real `serve`, without a failed request.
    assert float(fields["route_ratio"]) > 0 and float(fields["route_p99_ms"]) > 0
    assert fields["route_errors"] == "0"
