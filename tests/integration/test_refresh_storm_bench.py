"""Smoke test of bench/refresh_storm.py with tiny sizes, as a real process (two ``serve``
instances on PostgreSQL, the sandbox as Zoho): the last line has every field, our callers cost
one refresh per connection and were all answered, the naive pattern asked once per caller.
Speed is the bench's to say, never this test's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import missing

BENCH = Path(__file__).resolve().parents[2] / "bench" / "refresh_storm.py"
FIELDS = (
    "mints_per_connection",
    "throttled",
    "baseline_mints_per_connection",
    "baseline_throttled",
    "p99_ms",
    "fresh_p99_ms",
    "storm_extra_ms",
    "zoho_ms",
    "max_ms",
    "hot_us",
)


def test_s27_bench_refresh_storm_small() -> None:
    if not os.environ.get("ZOHO_TEST_POSTGRES_URL"):
        missing("ZOHO_TEST_POSTGRES_URL is not set (no PostgreSQL for this run)")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--connections",
            "2",
            "--callers",
            "3",
            "--zoho-ms",
            "20",
            "--hot-calls",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert set(FIELDS) <= set(fields)
    assert float(fields["mints_per_connection"]) == 1.0  # one refresh each, two instances
    assert fields["throttled"] == "0"  # every caller answered 200
    assert float(fields["baseline_mints_per_connection"]) == 3.0  # one per naive caller
