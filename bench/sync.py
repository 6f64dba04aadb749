"""Benchmark: the mirror's calls against Zoho's limits - an initial sync of N invoices with their
details, then k edits in Zoho and a second (steady-state) sync.

Starts the sandbox as a real server (uvicorn in a subprocess, as ``bench/bulk_pull.py`` does),
seeds N invoices, sets Zoho's 100 requests a window in a shortened window (100 per 1 s by
default), and syncs a connection's invoices into a fresh SQLite vault with ``Mirror`` - its
client paced by the sync's share of the organization's budget (``SyncShareBudget``, 50 %), as
the service's is. Then k invoices are edited through the sandbox's normal API (each moves its
``last_modified_time``) and a second sync runs. Calls are counted on the wire (every answer,
429s and retries included). The last line is::

    initial_calls=<n> initial_min_calls=<ceil(N/200) + N> steady_calls=<n> steady_min_calls=<1 + k>
    anchor_calls=<list calls beyond ceil(N/200)> throttled=<429s>
    rate_ratio=<achieved rate / allowed rate> rss_growth_mb=<peak RSS growth>

``rate_ratio`` is the initial sync's: at most the share (0.5) by design (rule 4).
``anchor_calls`` is what the anchored list reads cost over aligned pages (``MirrorSettings.
anchor_pages``: a delete between two pages of one run cannot skip a record); ``--aligned``
reads aligned pages (the minimum, and that gap).

Run: ``.venv/bin/python bench/sync.py`` (``--invoices 2000 --edits 50 --window 1 [--aligned]``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_pull import PeakRSS, mint_token, sandbox_server

from zoho_invoice._http import httpx
from zoho_invoice.api import TokenBucketBudget, ZohoInvoice
from zoho_invoice.mirror import Mirror, MirrorSettings, SyncShareBudget
from zoho_invoice.oauth._types import TokenSet
from zoho_invoice.vault import KeyRing, Vault

ALLOWED = 100  # Zoho's per-organization requests per window
SHARE = 0.5  # the sync's share of it (MirrorSettings' default)
PER_PAGE = 200
SCOPES = "ZohoInvoice.fullaccess.all"


@dataclass
class Result:
    invoices: int
    initial_calls: int
    initial_min_calls: int
    steady_calls: int
    steady_min_calls: int
    throttled: int
    rate_ratio: float
    rss_growth_mb: float
    mirrored: int
    anchor_calls: int = 0

    def line(self) -> str:
        return (
            f"initial_calls={self.initial_calls} initial_min_calls={self.initial_min_calls} "
            f"steady_calls={self.steady_calls} steady_min_calls={self.steady_min_calls} "
            f"anchor_calls={self.anchor_calls} throttled={self.throttled} "
            f"rate_ratio={self.rate_ratio:.3f} rss_growth_mb={self.rss_growth_mb:.1f}"
        )


class Wire:
    """Counts what the mirror's client sends: answers and 429s; samples RSS on each."""

    def __init__(self, rss: PeakRSS) -> None:
        self.calls = self.throttled = 0
        self.rss = rss

    def __call__(self, response: httpx.Response) -> None:
        self.calls += 1
        self.throttled += response.status_code == 429
        self.rss.sample()


def run(
    invoices: int, edits: int, window: float, *, verbose: bool = True, aligned: bool = False
) -> Result:
    def say(text: str) -> None:
        if verbose:
            print(text, file=sys.stderr, flush=True)

    with (
        sandbox_server() as base,
        httpx.Client(base_url=base, timeout=120) as control,
        tempfile.TemporaryDirectory() as tmp,
    ):
        token, api_domain, org, _ = mint_token(control, SCOPES)
        lifted = {"per_minute": 10**6, "daily": 10**7}
        control.put("/api/_sandbox/limits", json=lifted).raise_for_status()
        began = time.perf_counter()
        seeded = control.post(
            "/api/_sandbox/seed",
            json={"organization_id": org, "contacts": 50, "items": 20, "invoices": invoices},
        )
        if seeded.status_code != 201:
            raise RuntimeError(f"seeding failed: HTTP {seeded.status_code} {seeded.text[:300]}")
        say(f"seeded {invoices} invoices in {time.perf_counter() - began:.1f}s")
        # A real organization's records were not all changed in the last seconds: the mirror reads
        # a detail read within 1 s + clock_skew of its stamp once more (a second change in the
        # same second would share the stamp), so let the seed's newest stamps age past that.
        time.sleep(1 + MirrorSettings().clock_skew + 0.5)

        vault = Vault.open(
            f"sqlite:///{Path(tmp) / 'zoho.db'}",
            KeyRing.from_string(KeyRing.generate_entry("k1")),
            upgrade=True,
        )
        tokens = TokenSet(
            access_token=token,
            refresh_token="1000.bench.refresh",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            api_domain=api_domain,
            token_type="Bearer",
            scope=SCOPES,
        )
        connection, _ = vault.connections.save(
            owner="bench", location="us", api_domain=api_domain, scopes=[SCOPES], tokens=tokens
        )
        vault.connections.set_organization(connection.id, org)

        rss = PeakRSS()
        wire = Wire(rss)
        # Zoho's 100 a window for the organization (95 paced plus a burst of 5), and the sync's
        # share of it on top: what the service gives a sync.
        organization = TokenBucketBudget(rate=ALLOWED - 5, window=window, burst=5)
        budget = SyncShareBudget(organization, share=SHARE, rate=ALLOWED, window=window)
        http = httpx.Client(timeout=60, event_hooks={"response": [wire]})

        def client(connection_id: str, organization_id: str) -> ZohoInvoice:
            return ZohoInvoice(
                access_token=token,
                api_domain=api_domain,
                organization_id=organization_id,
                http_client=http,
                budget=budget,
            )

        settings = MirrorSettings(
            share=SHARE, per_minute=ALLOWED, window=window, anchor_pages=not aligned
        )
        mirror = Mirror(vault, client_factory=client, settings=settings)
        try:
            control.put(
                "/api/_sandbox/limits",
                json={"per_minute": ALLOWED, "window_seconds": window, "daily": 10**7},
            ).raise_for_status()
            control.delete("/api/_sandbox/usage").raise_for_status()

            # 1. The initial sync: every list page and every invoice's detail.
            began = time.perf_counter()
            first = mirror.sync(connection.id, resources=["invoices"])
            elapsed = time.perf_counter() - began
            initial_calls = wire.calls
            list_calls = sum(r.list_calls for r in first.resources)
            say(
                f"initial sync: {first.outcome}, {first.added} added in {initial_calls} calls, "
                f"{elapsed:.1f}s"
            )

            # 2. k edits in Zoho, through its normal API (a second later: whole seconds).
            time.sleep(1.1)
            control.put("/api/_sandbox/limits", json=lifted).raise_for_status()
            headers = {
                "Authorization": f"Zoho-oauthtoken {token}",
                "X-com-zoho-invoice-organizationid": org,
            }
            listed = httpx.get(
                f"{api_domain}/invoice/v3/invoices",
                # Sent ones: Zoho refuses some edits of a paid invoice.
                params={"per_page": 200, "status": "sent", "sort_column": "invoice_number"},
                headers=headers,
                timeout=60,
            ).json()["invoices"]
            for row in listed[:edits]:
                httpx.put(
                    f"{api_domain}/invoice/v3/invoices/{row['invoice_id']}",
                    json={"reference_number": f"EDIT-{row['invoice_number']}"},
                    headers=headers,
                    timeout=60,
                ).raise_for_status()
            control.put(
                "/api/_sandbox/limits",
                json={"per_minute": ALLOWED, "window_seconds": window, "daily": 10**7},
            ).raise_for_status()
            control.delete("/api/_sandbox/usage").raise_for_status()

            # 3. The steady-state sync: one list page of what changed, k details.
            second = mirror.sync(connection.id, resources=["invoices"])
            steady_calls = wire.calls - initial_calls
            say(f"steady sync: {second.outcome}, {second.updated} updated in {steady_calls} calls")
            mirrored = mirror.count(connection.id, "invoices")
        finally:
            http.close()
            vault.close()
    rss.sample()
    return Result(
        invoices=invoices,
        initial_calls=initial_calls,
        initial_min_calls=math.ceil(invoices / PER_PAGE) + invoices,
        steady_calls=steady_calls,
        steady_min_calls=1 + min(edits, invoices),
        throttled=wire.throttled,
        rate_ratio=(initial_calls / elapsed) / (ALLOWED / window),
        rss_growth_mb=rss.growth_mb,
        mirrored=mirrored,
        anchor_calls=list_calls - math.ceil(invoices / PER_PAGE),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2_000)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per 100 requests")
    parser.add_argument(
        "--aligned", action="store_true", help="aligned list pages (MirrorSettings.anchor_pages)"
    )
    args = parser.parse_args(argv)
    result = run(args.invoices, args.edits, args.window, aligned=args.aligned)
    print(result.line(), flush=True)
    return 0 if result.mirrored == args.invoices else 1


if __name__ == "__main__":
    raise SystemExit(main())
