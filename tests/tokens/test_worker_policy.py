"""Unit tests (real Vault on SQLite, fake Zoho, the test clock moved over simulated days): the
worker keeps in-use connections warm, leaves idle ones alone until their probe is due, probes
an idle connection once per interval, and a probe that meets a dead refresh token marks the
connection needs_reauth and announces it (SECURITY 31)."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

from tokens._support import FakeZoho, Manager
from zoho_invoice.tokens import (
    Backoff,
    RefreshCycle,
    TokenManager,
    WorkerPolicy,
    WorkerVault,
    refresh_due,
    refresh_expiring,
)

HOUR = 3600.0
DAY = 86400.0
CYCLE = 60.0  # the worker's interval in these tests
LEEWAY = 300.0 + CYCLE  # as `zoho-invoice worker` sets it: refresh leeway + interval


def refresh_token(n: int) -> str:
    return f"1000.{n:032x}.{'f' * 32}"


def mints_by_refresh_token(zoho: FakeZoho) -> Counter[str]:
    """Refreshes Zoho saw, per refresh token (one refresh token per connection here)."""
    return Counter(parse_qs(r.content.decode())["refresh_token"][0] for r in zoho.requests)


def worker_manager(make_manager: Manager) -> TokenManager:
    """A manager as the worker builds it: its refreshes are stored as not-use."""
    return TokenManager(
        WorkerVault.view(make_manager.vault, clock=make_manager.clock),
        make_manager.oauth(make_manager.zoho),
        leeway=LEEWAY,
        clock=make_manager.clock,
        sleep=make_manager.sleep,
        backoff=Backoff(initial=0.5, maximum=8.0, jitter=lambda: 0.0),
        events=make_manager.events.append,
    )


def run_cycles(
    make_manager: Manager,
    worker: TokenManager,
    seconds: float,
    policy: WorkerPolicy,
    step: float = CYCLE,
) -> list[RefreshCycle]:
    """Worker cycles every ``step`` seconds of the test clock for ``seconds``."""
    cycles = []
    end = make_manager.clock() + seconds
    while make_manager.clock() < end:
        cycles.append(
            refresh_due(
                worker, make_manager.vault.refresh_schedule, policy=policy, clock=make_manager.clock
            )
        )
        make_manager.clock.advance(step)
    return cycles


def test_in_use_connections_stay_warm_and_idle_ones_are_left_alone(
    make_manager: Manager,
) -> None:
    in_use = make_manager.save(expires_in=HOUR, owner="busy", refresh_token=refresh_token(1))
    idle = make_manager.save(expires_in=HOUR, owner="quiet", refresh_token=refresh_token(2))
    policy = WorkerPolicy(in_use_window=2 * HOUR, idle_probe_interval=DAY)
    worker = worker_manager(make_manager)
    user = make_manager()  # a caller's manager: its refreshes on demand are use
    # Three hours on, both tokens have lapsed and neither is in use any more.
    make_manager.clock.advance(3 * HOUR)
    assert run_cycles(make_manager, worker, CYCLE, policy) == [RefreshCycle()]
    # A caller asks for the busy one: refreshed on demand, which records the use.
    user.get_access_token(in_use)
    used_at = make_manager.clock()
    # For the in-use window the worker refreshes it before it ends: a caller asking just
    # before each cycle finds a fresh token and never waits for Zoho.
    end = used_at + 2 * HOUR
    while make_manager.clock() < end:
        refresh_due(
            worker, make_manager.vault.refresh_schedule, policy=policy, clock=make_manager.clock
        )
        make_manager.clock.advance(CYCLE - 1)
        user.get_access_token(in_use)
        make_manager.clock.advance(1)
    mints = mints_by_refresh_token(make_manager.zoho)
    assert mints[refresh_token(1)] == 1 + 2  # the caller's, then the worker's two
    assert mints[refresh_token(2)] == 0  # idle: not a single mint
    # The caller's last use mark (at most a quarter window before it stopped) keeps the token
    # warm for at most one window more; the worker's own refreshes are not use: after that
    # the busy one is idle too and nothing is minted any more.
    run_cycles(make_manager, worker, 2 * HOUR + CYCLE, policy)
    after_window = mints_by_refresh_token(make_manager.zoho)
    assert after_window[refresh_token(1)] - mints[refresh_token(1)] <= 2
    run_cycles(make_manager, worker, 3 * HOUR, policy)
    assert mints_by_refresh_token(make_manager.zoho) == after_window
    assert make_manager.vault.get_connection(idle).status == "active"


def test_an_idle_connection_is_probed_once_per_interval(make_manager: Manager) -> None:
    # Connections made across the first hours, then never used: over two simulated days each
    # is refreshed once a day by the worker, and by nobody else.
    ids = []
    for n in range(4):
        ids.append(
            make_manager.save(expires_in=HOUR, owner=f"t{n}", refresh_token=refresh_token(n))
        )
        make_manager.clock.advance(1.5 * HOUR)
    # A connect is use: the newest stays in use for the window; start when none is.
    make_manager.clock.advance(2 * HOUR)
    policy = WorkerPolicy(in_use_window=2 * HOUR, idle_probe_interval=DAY)
    worker = worker_manager(make_manager)
    cycles = run_cycles(make_manager, worker, 2 * DAY + HOUR, policy, step=10 * CYCLE)
    assert mints_by_refresh_token(make_manager.zoho) == {refresh_token(n): 2 for n in range(4)}
    assert sum(c.probed for c in cycles) == 8 and sum(c.kept_warm for c in cycles) == 0
    # The policy before: every active connection kept warm, about 24 refreshes a day each.
    make_manager.zoho.requests.clear()
    end = make_manager.clock() + DAY
    while make_manager.clock() < end:
        refresh_expiring(worker, make_manager.vault, clock=make_manager.clock)
        make_manager.clock.advance(5 * CYCLE)
    assert all(n >= 22 for n in mints_by_refresh_token(make_manager.zoho).values())


def test_probes_per_cycle_spreads_a_backlog(make_manager: Manager) -> None:
    for n in range(5):
        make_manager.save(expires_in=HOUR, owner=f"t{n}", refresh_token=refresh_token(n))
    make_manager.clock.advance(DAY + HOUR)
    policy = WorkerPolicy(probes_per_cycle=2, batch_size=1)
    worker = worker_manager(make_manager)
    probed = [c.probed for c in run_cycles(make_manager, worker, 4 * CYCLE, policy)]
    assert probed == [2, 2, 1, 0]
    assert set(mints_by_refresh_token(make_manager.zoho).values()) == {1}


def test_in_use_pages_reach_every_due_connection(make_manager: Manager) -> None:
    for n in range(5):
        make_manager.save(expires_in=60, owner=f"t{n}", refresh_token=refresh_token(n))
    cycle = refresh_due(
        worker_manager(make_manager),
        make_manager.vault.refresh_schedule,
        policy=WorkerPolicy(batch_size=2),
        clock=make_manager.clock,
    )
    assert cycle == RefreshCycle(kept_warm=5)


def test_s31_a_probe_finds_a_dead_refresh_token_and_announces_it(make_manager: Manager) -> None:
    dead = make_manager.save(expires_in=HOUR, refresh_token=refresh_token(9))
    worker = worker_manager(make_manager)
    policy = WorkerPolicy()
    make_manager.clock.advance(DAY - HOUR)
    assert run_cycles(make_manager, worker, 30 * CYCLE, policy)[0] == RefreshCycle()
    make_manager.clock.advance(HOUR)
    make_manager.zoho.script.append(make_manager.error("invalid_code"))
    cycle = refresh_due(
        worker, make_manager.vault.refresh_schedule, policy=policy, clock=make_manager.clock
    )
    assert cycle == RefreshCycle(needs_reauth=1)
    assert make_manager.vault.get_connection(dead).status == "needs_reauth"
    assert [e.type for e in make_manager.events] == ["connection.needs_reauth"]
    # A connection marked needs_reauth is not probed again.
    run_cycles(make_manager, worker, 2 * DAY, policy)
    assert make_manager.zoho.refreshes == 1
