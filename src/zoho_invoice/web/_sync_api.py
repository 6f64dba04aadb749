"""The mirror over HTTP (issue 10): start and read a connection's sync in the JSON API, make its
workflow-webhook URL, and the URL itself that a Zoho workflow rule calls.

JSON API (the API's route class: ``Authorization: Bearer <ZOHO_API_KEY>`` first, ``no-store``,
errors from ``web/_errors.py``):

- ``POST /api/connections/{id}/sync`` (body optional: ``{"resources": [...], "full": false,
  "reconcile": false}``) answers 202 and runs the sync in a background task; while one runs (in
  this process, or any process: the mirror's lease) it answers 409 ``sync_already_running``.
  Each finished sync queues a ``sync.completed`` event with its counts.
- ``GET /api/connections/{id}/sync``: per resource the last run, cursor, counts, error, backlog;
  ``running``; ``last_success_at``; whether a trigger URL is set.
- ``POST /api/connections/{id}/sync/webhook-url`` (201): a new secret trigger URL, shown this
  once (the previous one stops working); ``DELETE`` forgets it.

``POST /zoho/webhooks/{token}`` (no API key: the token is the secret): a workflow rule's call.
The body is read to 64 KB at most and ignored - never data - and the answer is 202 whatever it
held; an unknown token is 404, its lookup a hash and then an indexed search of the hash, so the
time says nothing of a guess. A known one asks for a sync of its connection, debounced to one per
``ZOHO_SYNC_WEBHOOK_DEBOUNCE`` (a minute by default; ``vault/_sync_triggers.py``); it starts in
this process when due, or in any worker with ``--sync-every``. A call that finds a sync of its
connection running is kept for the next one (``SyncRunner``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol

import anyio
from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .._exceptions import ConnectionNotFoundError
from .._redact import redact
from .._serving import MAX_BODY_BYTES
from ..api import ZohoInvoice, budget_from_settings
from ..mirror import RESOURCES, Mirror, ResourceName, SyncProgress, SyncShareBudget
from ..mirror._sync_rounds import SyncRounds
from ..vault import Connection
from ..vault._sync_triggers import SyncTriggers
from ._api import MAX_CONNECTION_ID, _auth_route_class, _bearer_scheme, _err
from ._context import WebContext
from ._errors import APIProblem, error_response

__all__ = [
    "Cancellable",
    "SyncRunner",
    "SyncStopped",
    "WakeUpTimer",
    "forget_mirror",
    "loop_timer",
    "mirror_for",
    "runner_for",
    "sync_routers",
    "use_runner",
]

logger = logging.getLogger("zoho_invoice.web")

#: What a workflow call's body may be before it is cut off unread (it is ignored anyway).
MAX_TRIGGER_BODY = 64 * 1024


def mirror_for(ctx: WebContext) -> Mirror:
    """The mirror of the service: its clients use the service's transport, its quota blocks and
    the sync's share of its request budget (rule 4)."""
    budget = SyncShareBudget(ctx.api_budget or budget_from_settings(ctx.settings))

    def client(connection_id: str, organization_id: str) -> ZohoInvoice:
        return ZohoInvoice.for_connection(
            ctx.manager,
            connection_id,
            organization_id,
            http_client=ctx.api_http_client,
            budget=budget,
            quota_blocks=ctx.api_quota_blocks,
        )

    return Mirror(ctx.vault, ctx.manager, client_factory=client)


def forget_mirror(ctx: WebContext, connection_id: str, *, purge: bool) -> int | None:
    """On disconnect: the trigger URL goes; the mirrored rows too with ``purge`` (their count),
    else they stay, their connection marked revoked."""
    ctx.vault.sync_triggers.revoke(connection_id)
    return mirror_for(ctx).purge(connection_id) if purge else None


class Cancellable(Protocol):
    """A pending wake-up (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class WakeUpTimer(Protocol):
    """Calls ``callback`` on the running event loop after ``delay`` seconds (the seam a test
    replaces with timers it fires itself)."""

    def __call__(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...


def loop_timer(delay: float, callback: Callable[[], None]) -> Cancellable:
    """The running loop's ``call_later``: the runner's default timer."""
    return asyncio.get_running_loop().call_later(delay, callback)


def _union(a: list[ResourceName] | None, b: list[ResourceName] | None) -> list[ResourceName] | None:
    """Both asks in one sync (``None``: every resource)."""
    if a is None or b is None:
        return None
    return [r for r in RESOURCES if r in a or r in b]


class SyncStopped(Exception):
    """Raised in a sync's thread when its task was cancelled (the service stops)."""


class SyncRunner:
    """Runs syncs of this process in worker threads, one per connection at a time, and the
    triggered ones when they fall due. Across processes the mirror's lease decides.

    Triggered syncs: at most one wake-up is pending per runner, at the earliest due request
    (a burst of workflow calls leaves one timer, not one each); each connection it takes runs as
    its own task; one whose sync is already running (here, or elsewhere holding the lease) is
    asked for again, due a debounce after this start, so an edit made in Zoho while a sync ran
    is read by the next one (rule 1), not dropped.

    ``timer`` is the seam for the wake-ups (default: the running loop's ``call_later``)."""

    def __init__(
        self,
        ctx: WebContext,
        *,
        mirror: Mirror | None = None,
        timer: WakeUpTimer = loop_timer,
    ) -> None:
        self.ctx = ctx
        self.triggers = ctx.vault.sync_triggers.with_debounce(ctx.settings.sync_webhook_debounce)
        self._mirror = mirror
        self._rounds: SyncRounds | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._timer = timer
        self._wake: tuple[datetime, Cancellable] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Syncs asked for while the connection's ran here: started when it ends.
        self._again: dict[str, list[ResourceName] | None] = {}

    @property
    def mirror(self) -> Mirror:
        """Built on first use: an app that never syncs never builds one."""
        if self._mirror is None:
            self._mirror = mirror_for(self.ctx)
        return self._mirror

    @property
    def rounds(self) -> SyncRounds:
        if self._rounds is None:
            self._rounds = SyncRounds(self.mirror, self.ctx.vault, every=None, events=self.ctx.emit)
        return self._rounds

    def claim(self, connection_id: str) -> bool:
        """Mark the connection's sync as started in this process; ``False`` if one runs (here,
        or elsewhere holding the lease)."""
        with self._lock:
            if connection_id in self._running:
                return False
            self._running.add(connection_id)
        if self.mirror.status(connection_id).running:
            self.release(connection_id)
            return False
        return True

    def release(self, connection_id: str) -> None:
        with self._lock:
            self._running.discard(connection_id)

    def is_running(self, connection_id: str) -> bool:
        with self._lock:
            return connection_id in self._running

    def again_after(self, connection_id: str, resources: list[ResourceName] | None) -> None:
        """Start a sync of ``resources`` once the connection's running one here ends (what it
        read before the ask may predate a change the caller just made)."""
        with self._lock:
            if connection_id in self._again:
                resources = _union(self._again[connection_id], resources)
            self._again[connection_id] = resources

    async def run(
        self,
        connection_id: str,
        *,
        resources: list[ResourceName] | None = None,
        full: bool = False,
        reconcile: bool = False,
    ) -> None:
        """One claimed sync in a worker thread. Its failure is logged (redacted) and goes no
        further (the mirror stored it in the resource's status, which ``GET .../sync`` shows);
        a sync asked for meanwhile (``again_after``) starts when it ends."""
        stop = threading.Event()

        def progress(_step: SyncProgress) -> None:
            if stop.is_set():
                raise SyncStopped("the service is stopping; the next sync resumes")

        try:
            await anyio.to_thread.run_sync(
                lambda: self.rounds.run(
                    connection_id,
                    resources=resources,
                    full=full,
                    reconcile=reconcile,
                    progress=progress,
                ),
                abandon_on_cancel=True,
            )
        except anyio.get_cancelled_exc_class():
            # The loop is closing (shutdown): the thread stops at its next call, from its
            # checkpoint; the process does not wait for the sync to end.
            stop.set()
            raise
        except Exception as exc:  # one connection's failure is not the caller's
            logger.warning(
                "sync of connection %s failed (%s: %s)",
                connection_id,
                type(exc).__name__,
                redact(str(exc)),
            )
        finally:
            self.release(connection_id)
            with self._lock:
                wanted = connection_id in self._again and not stop.is_set()
                follow = self._again.pop(connection_id, None)
            if wanted and await anyio.to_thread.run_sync(self.claim, connection_id):
                self.launch(connection_id, resources=follow)

    def launch(self, connection_id: str, *, resources: list[ResourceName] | None = None) -> None:
        """Run the claimed connection's sync as a task of this event loop (not of a request):
        from a worker thread, call it through ``anyio.from_thread.run_sync``."""
        self._spawn(self.run(connection_id, resources=resources))

    def start_from_thread(
        self, connection_id: str, *, resources: list[ResourceName] | None = None
    ) -> bool:
        """From a sync route's worker thread: claim and launch; ``False`` if one runs."""
        if not self.claim(connection_id):
            return False
        try:
            anyio.from_thread.run_sync(lambda: self.launch(connection_id, resources=resources))
        except BaseException:
            self.release(connection_id)
            raise
        return True

    async def run_due(self) -> None:
        """Start every triggered sync that is due, each its own task; set the wake-up for the
        next request."""
        taken = await anyio.to_thread.run_sync(self.triggers.take_due)
        for connection_id in taken:
            self._spawn(self._run_taken(connection_id))
        upcoming = await anyio.to_thread.run_sync(self.triggers.next_due)
        if upcoming is not None:
            self.wake_at(upcoming)

    async def _run_taken(self, connection_id: str) -> None:
        try:
            claimed = await anyio.to_thread.run_sync(self.claim, connection_id)
        except Exception as exc:
            logger.warning("sync of connection %s not started (%s)", connection_id, redact(exc))
            claimed = False
        if claimed:
            await self.run(connection_id)
            return
        # A sync of it runs: ask again (due a debounce after this start), never drop the call.
        due = await anyio.to_thread.run_sync(_request_or_none(self.triggers), connection_id)
        if due is not None:
            self.wake_at(due)

    def wake_at(self, moment: datetime) -> None:
        """Run ``run_due`` at ``moment`` on this event loop; a wake-up already set for then or
        earlier stands (it finds this request too), a later one is replaced. Lost if the
        process ends: a worker with ``--sync-every`` picks the request up from the database."""
        if self._wake is not None:
            if self._wake[0] <= moment:
                return
            self._wake[1].cancel()
        delay = max(0.0, (moment - self.triggers.now()).total_seconds())

        def fire() -> None:
            self._wake = None
            self._spawn(self.run_due())

        self._wake = (moment, self._timer(delay, fire))

    @property
    def next_wake_up(self) -> datetime | None:
        """When the pending wake-up fires (``None``: none is set)."""
        return None if self._wake is None else self._wake[0]

    async def idle(self) -> None:
        """Wait until every task this runner started has ended (syncs, ``run_due``); a pending
        wake-up is not waited for."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


#: One runner per service context, shared by the JSON API and the demo dashboard, so "already
#: running" holds across both.
_RUNNERS: dict[int, SyncRunner] = {}


def runner_for(ctx: WebContext) -> SyncRunner:
    """The context's sync runner (made on first use, dropped with the context)."""
    runner = _RUNNERS.get(id(ctx))
    if runner is None:
        runner = use_runner(ctx, SyncRunner(ctx))
    return runner


def use_runner(ctx: WebContext, runner: SyncRunner) -> SyncRunner:
    """Make ``runner`` the context's: the routes and the demo use it from their next request.
    The seam for an app (or a test) whose mirror is its own: another client factory, another
    budget (``SyncRunner(ctx, mirror=Mirror(...))``)."""
    if id(ctx) not in _RUNNERS:
        weakref.finalize(ctx, _RUNNERS.pop, id(ctx), None)
    _RUNNERS[id(ctx)] = runner
    return runner


class SyncIn(BaseModel):
    resources: list[ResourceName] | None = Field(
        default=None, description=f"A subset of: {', '.join(RESOURCES)} (default: all)"
    )
    full: bool = Field(default=False, description="Read every list again, not only changes")
    reconcile: bool = Field(default=False, description="Also find records deleted in Zoho")


class SyncStarted(BaseModel):
    connection_id: str
    status: str = "started"


class WebhookUrlOut(BaseModel):
    url: str = Field(description="Shown once: paste it into a Zoho workflow rule's webhook")


def _connection(ctx: WebContext, connection_id: str) -> Connection:
    if len(connection_id) > MAX_CONNECTION_ID:
        raise ConnectionNotFoundError("no connection with that id")
    return ctx.vault.get_connection(connection_id)


def sync_routers(ctx: WebContext, runner: SyncRunner | None = None) -> list[APIRouter]:
    """The mirror's JSON API routes and the workflow-webhook route; include them *before*
    ``api_router`` (whose catch-all answers any other ``/api`` path). Without ``runner`` they
    use the context's (``runner_for``), looked up at each request."""
    fixed = runner

    def current() -> SyncRunner:
        return fixed or runner_for(ctx)

    api = APIRouter(
        prefix="/api",
        max_body_size=MAX_BODY_BYTES,
        route_class=_auth_route_class(ctx),
        dependencies=[Depends(_bearer_scheme)],
        tags=["mirror"],
        responses={
            401: _err("Missing or wrong API key"),
            404: _err("No such connection"),
            503: _err("The database is not answering"),
        },
    )

    @api.post(
        "/connections/{connection_id}/sync",
        status_code=202,
        response_model=SyncStarted,
        responses={409: _err("A sync of the connection runs, or no organization is bound")},
    )
    def start_sync(
        connection_id: str, background: BackgroundTasks, body: SyncIn | None = None
    ) -> SyncStarted:
        """Start a sync of the connection's mirror in the background (202)."""
        conn = _connection(ctx, connection_id)
        if conn.organization_id is None:
            raise APIProblem(
                409,
                "no_organization",
                "bind an organization first (PATCH /api/connections/{id})",
            )
        if conn.status != "active":
            raise APIProblem(409, "needs_reauth", "the connection needs reconnecting")
        if not current().claim(conn.id):
            raise APIProblem(
                409, "sync_already_running", "a sync of this connection is already running"
            )
        options = body or SyncIn()
        background.add_task(
            current().run,
            conn.id,
            resources=options.resources,
            full=options.full,
            reconcile=options.reconcile,
        )
        return SyncStarted(connection_id=conn.id)

    @api.get("/connections/{connection_id}/sync")
    def sync_status(connection_id: str) -> dict[str, Any]:
        """Per resource: the last run, cursor, counts, error and backlog; ``running``."""
        conn = _connection(ctx, connection_id)
        status: dict[str, Any] = current().mirror.status(conn.id).to_json()
        status["running"] = bool(status["running"]) or current().is_running(conn.id)
        status["webhook_url_set"] = current().triggers.has_url(conn.id)
        return status

    @api.post(
        "/connections/{connection_id}/sync/webhook-url",
        status_code=201,
        response_model=WebhookUrlOut,
    )
    def make_webhook_url(connection_id: str) -> WebhookUrlOut:
        """A new secret URL for a Zoho workflow rule (shown once; the old one stops working)."""
        conn = _connection(ctx, connection_id)
        token = current().triggers.issue(conn.id)
        return WebhookUrlOut(url=f"{ctx.settings.public_url}/zoho/webhooks/{token}")

    @api.delete(
        "/connections/{connection_id}/sync/webhook-url",
        status_code=204,
        response_class=Response,
    )
    def forget_webhook_url(connection_id: str) -> Response:
        """Forget the trigger URL: Zoho's calls to it get 404."""
        conn = _connection(ctx, connection_id)
        current().triggers.revoke(conn.id)
        return Response(status_code=204)

    hooks = APIRouter(tags=["mirror"])

    @hooks.post("/zoho/webhooks/{token}", status_code=202, include_in_schema=False)
    async def workflow_webhook(token: str, request: Request) -> Response:
        """A Zoho workflow rule's call: a sync of the token's connection soon. Body ignored."""
        await _drain(request, MAX_TRIGGER_BODY)
        runner = current()
        connection_id = await anyio.to_thread.run_sync(runner.triggers.connection_for, token)
        headers = {"Cache-Control": "no-store"}
        if connection_id is None:
            return error_response(404, "not_found", "no such webhook", headers=headers)
        due = await anyio.to_thread.run_sync(_request_or_none(runner.triggers), connection_id)
        if due is not None:
            runner.wake_at(due)  # now (after the answer: Zoho does not wait), or debounced
        return JSONResponse({"status": "accepted"}, status_code=202, headers=headers)

    return [api, hooks]


def _request_or_none(triggers: SyncTriggers) -> Callable[[str], datetime | None]:
    def request(connection_id: str) -> datetime | None:
        try:
            return triggers.request(connection_id)
        except LookupError:  # revoked between the lookup and now
            return None

    return request


async def _drain(request: Request, limit: int) -> None:
    """Read at most ``limit`` bytes of the body and drop them: the body is never data, and a
    caller cannot make us hold more than that."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen >= limit:
            break
