"""The Zoho Invoice API v3 simulator: an ASGI app serving ``/{location}/invoice/v3/...``.

Each request goes: journal → per-IP limit (off by default) → route → ``Authorization`` (401
code 14 / 57, the token's DC must be the URL's, the scope must cover the operation) →
organization (400 code 2 / 6041) → limits (429 code 44 / 45 / 1070) → scripted fault
(``invoice.<METHOD> <template>``) → handler.
Control endpoints (``/_sandbox/limits``, ``/_sandbox/seed``, ``/_sandbox/emails``) sit beside.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _credit_routes, _extras_app, _settings_routes
from ._books import Books
from ._errors import ZohoAPIFailure, invalid
from ._limits import Admission, InvoiceLimits, RateLimiter
from ._pdf import invoice_pdf, pdf_disposition
from ._query import parse_list_query
from ._recurring import with_due_invoices
from ._resources import CONTACTS, ESTIMATES, INVOICES, ITEMS, PAYMENTS, Resource
from ._seed import seed_organization
from ._store import Doc, InvoiceStore

if TYPE_CHECKING:  # the world imports this package's store: no import at run time
    from .._directory import SimOrganization
    from .._world import SandboxWorld

__all__ = ["create_invoice_app"]

_MAX_BODY = 1_000_000
_OPS = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥", "CNY": "¥"}


@dataclass(slots=True)
class Context:
    request: Request
    books: Books | None
    org: SimOrganization | None
    user_id: str
    path: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    #: The files of a multipart body: name → (file name, content type, bytes).
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    #: The sandbox's settings in force: lists read ``last_modified_time`` by them.
    limits: InvoiceLimits = field(default_factory=InvoiceLimits)

    @property
    def b(self) -> Books:
        assert self.books is not None
        return self.books


Payload = dict[str, Any] | Response
Handler = Callable[[Context], Payload]


@dataclass(frozen=True, slots=True)
class _Endpoint:
    method: str
    template: str
    area: str
    handler: Handler
    needs_org: bool = True
    status: int = 200


def _ok(message: str = "success", data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": 0, "message": message, **(data or {})}


def _summary(res: Resource, doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k not in res.summary_exclude}


class _InvoiceAPI:
    def __init__(self, world: SandboxWorld, limits: InvoiceLimits) -> None:
        self.world = world
        self.store: InvoiceStore = world.invoices
        self.limiter = RateLimiter(limits, world.clock)
        self.endpoints: dict[str, dict[str, _Endpoint]] = {}
        self._register()

    # -- the table of endpoints ------------------------------------------------------------

    def _add(self, method: str, template: str, area: str, handler: Handler, **kw: Any) -> None:
        self.endpoints.setdefault(template, {})[method] = _Endpoint(
            method, template, area, handler, **kw
        )

    def _register(self) -> None:
        add = self._add
        add("GET", "/organizations", "settings", self.list_organizations, needs_org=False)
        add("GET", "/organizations/{organization_id}", "settings", self.get_organization,
            needs_org=False)  # fmt: skip
        # Zoho asks for an organization here too: the answer is the token's user as a user of
        # that organization (400 code 6041 when the user is not one of its users).
        add("GET", "/users/me", "settings", self.current_user)
        # Taxes, currencies, contact persons, users: before /contacts/{contact_id} (one match).
        _settings_routes.register(add, self.world)
        _credit_routes.register(add)  # credit notes, invoice credits, recurring invoices
        for res, save in (
            (CONTACTS, "save_contact"),
            (ITEMS, "save_item"),
            (INVOICES, "save_invoice"),
            (ESTIMATES, "save_estimate"),
            (PAYMENTS, "save_payment"),
        ):
            base = f"/{res.plural}"
            one = f"{base}/{{{res.id_field}}}"
            add("GET", base, res.area, self._lister(res))
            add("POST", base, res.area, self._creator(res, save), status=201)
            add("GET", one, res.area, self._getter(res))
            add("PUT", one, res.area, self._updater(res, save))
            add("DELETE", one, res.area, self._deleter(res))
        for status in ("active", "inactive"):
            add(
                "POST",
                f"/contacts/{{contact_id}}/{status}",
                "contacts",
                self._contact_status(status),
            )
            add("POST", f"/items/{{item_id}}/{status}", "settings", self._item_status(status))
        for status in ("sent", "void", "draft"):
            add("POST", f"/invoices/{{invoice_id}}/status/{status}", "invoices",
                self._invoice_status(status))  # fmt: skip
        add("POST", "/invoices/{invoice_id}/email", "invoices", self.email_invoice)
        for status in ("sent", "accepted", "declined"):
            add("POST", f"/estimates/{{estimate_id}}/status/{status}", "estimates",
                self._estimate_status(status))  # fmt: skip
        # An invoice's payments, comments and history, reminders, files, write-off, templates;
        # last, as it wraps the endpoints above that change invoices.
        _extras_app.install(self)

    # -- organizations ----------------------------------------------------------------------

    def _org_json(self, org: SimOrganization, default: bool) -> Doc:
        owner = self.world.directory.user(org.owner_user_id)
        return {
            "organization_id": org.organization_id,
            "name": org.name,
            "contact_name": getattr(owner, "display_name", ""),
            "email": getattr(owner, "email", ""),
            "is_default_org": default,
            "plan_type": 0,
            "plan_name": "STANDARD",
            "language_code": "en",
            "fiscal_year_start_month": 0,
            "account_created_date": "2016-02-18",
            "time_zone": "Etc/UTC",
            "currency_code": org.currency_code,
            "currency_symbol": _CURRENCY_SYMBOLS.get(org.currency_code, org.currency_code),
            "location": org.location,
        }

    def list_organizations(self, ctx: Context) -> Payload:
        orgs = self.world.directory.organizations_for(ctx.user_id)
        return _ok(data={"organizations": [self._org_json(o, i == 0) for i, o in enumerate(orgs)]})

    def get_organization(self, ctx: Context) -> Payload:
        orgs = self.world.directory.organizations_for(ctx.user_id)
        for index, org in enumerate(orgs):
            if org.organization_id == ctx.path["organization_id"]:
                return _ok(data={"organization": self._org_json(org, index == 0)})
        raise _not_associated(ctx.path["organization_id"])

    # -- users --------------------------------------------------------------------------------

    def current_user(self, ctx: Context) -> Payload:
        """``GET /users/me`` as Zoho documents it: ``{"code": 0, "user": {...}}``."""
        user = self.world.directory.user(ctx.user_id)
        assert ctx.org is not None and user is not None
        role = "admin" if ctx.org.owner_user_id == user.user_id else "staff"
        return _ok(
            data={
                "user": {
                    "user_id": user.user_id,
                    "name": user.display_name,
                    "email": user.email,
                    "user_role": role,
                    "status": "active",
                    "is_current_user": True,
                    "user_type": "zoho",
                }
            }
        )

    # -- generic resources ------------------------------------------------------------------

    def _lister(self, res: Resource) -> Handler:
        def handler(ctx: Context) -> Payload:
            books = ctx.b
            query = parse_list_query(res, ctx.query, books.today, ctx.limits)
            docs = self.store.select(
                res,
                books.org,
                where=query.where,
                params=query.params,
                order_by=query.order_by,
                limit=query.per_page + 1,
                offset=(query.page - 1) * query.per_page,
            )
            page = [_summary(res, books.present(res, d)) for d in docs[: query.per_page]]
            more = len(docs) > query.per_page
            return _ok(data={res.plural: page, "page_context": query.page_context(more)})

        return handler

    def _getter(self, res: Resource) -> Handler:
        def handler(ctx: Context) -> Payload:
            doc = ctx.b.present(res, ctx.b.get(res, ctx.path[res.id_field]))
            if res is INVOICES and _wants_pdf(ctx):
                assert ctx.org is not None
                # As Zoho answers: an attachment named by the invoice number (INV-000384.pdf).
                return Response(
                    invoice_pdf(doc, ctx.org.name),
                    headers={
                        "Content-Type": "application/pdf;charset=UTF-8",
                        "Content-Disposition": pdf_disposition(str(doc["invoice_number"])),
                    },
                )
            return _ok(data={res.singular: doc})

        return handler

    def _creator(self, res: Resource, save: str) -> Handler:
        messages = {
            CONTACTS: "The contact has been added.",
            ITEMS: "The item has been added.",
            INVOICES: "The invoice has been created.",
            ESTIMATES: "The estimate has been created.",
            PAYMENTS: "The payment has been created.",
        }

        def handler(ctx: Context) -> Payload:
            if (
                res is INVOICES
                and ctx.query.get("ignore_auto_number_generation") == "true"
                and not str(ctx.body.get("invoice_number") or "").strip()
            ):
                # The caller numbers this invoice itself: Zoho then needs the number.
                raise invalid("invoice_number")
            doc = getattr(ctx.b, save)(ctx.body)
            if res is INVOICES and ctx.query.get("send") == "true":
                ctx.b.invoice_status(doc["invoice_id"], "sent")
                doc = ctx.b.get(INVOICES, doc["invoice_id"])
            return _ok(messages[res], {res.singular: ctx.b.present(res, doc)})

        return handler

    def _updater(self, res: Resource, save: str) -> Handler:
        def handler(ctx: Context) -> Payload:
            existing = ctx.b.get(res, ctx.path[res.id_field])
            doc = getattr(ctx.b, save)(ctx.body, existing)
            return _ok(
                f"{res.label} information has been updated.",
                {res.singular: ctx.b.present(res, doc)},
            )

        return handler

    def _deleter(self, res: Resource) -> Handler:
        def handler(ctx: Context) -> Payload:
            doc_id = ctx.path[res.id_field]
            if res is CONTACTS:
                ctx.b.delete_contact(doc_id)
            elif res is INVOICES:
                ctx.b.delete_invoice(doc_id)
            elif res is PAYMENTS:
                ctx.b.delete_payment(doc_id)
            elif res is ITEMS:
                ctx.b.delete_item(doc_id)
            else:
                ctx.b.get(res, doc_id)
                self.store.delete(res, ctx.b.org, doc_id)
            return _ok(f"The {res.label.lower()} has been deleted.")

        return handler

    def _contact_status(self, status: str) -> Handler:
        def handler(ctx: Context) -> Payload:
            ctx.b.set_contact_status(ctx.path["contact_id"], status)
            return _ok(f"The contact has been marked as {status}.")

        return handler

    def _item_status(self, status: str) -> Handler:
        def handler(ctx: Context) -> Payload:
            ctx.b.set_item_status(ctx.path["item_id"], status)
            return _ok(f"The item has been marked as {status}.")

        return handler

    def _invoice_status(self, status: str) -> Handler:
        def handler(ctx: Context) -> Payload:
            ctx.b.invoice_status(ctx.path["invoice_id"], status)
            if status == "draft":  # Zoho's own words for this one
                return _ok("Status of invoice changed from void to draft")
            return _ok(f"Invoice status has been changed to {status.capitalize()}.")

        return handler

    def email_invoice(self, ctx: Context) -> Payload:
        ctx.b.email_invoice(ctx.path["invoice_id"], ctx.body)
        return _ok("Your invoice has been sent.")

    def _estimate_status(self, status: str) -> Handler:
        def handler(ctx: Context) -> Payload:
            ctx.b.estimate_status(ctx.path["estimate_id"], status)
            return _ok(f"Estimate status has been changed to {status.capitalize()}.")

        return handler

    # -- the pipeline -------------------------------------------------------------------------

    async def dispatch(self, request: Request, template: str) -> Response:
        raw = await request.body()
        self.world.journal.record(
            endpoint=f"invoice.{request.method} {template}",
            method=request.method,
            path=request.url.path,
            query=parse_qsl(request.url.query, keep_blank_values=True),
            headers=dict(request.headers),
            body=raw[:_MAX_BODY].decode("utf-8", "replace"),
        )
        blocked = self.limiter.check_address(request.client.host if request.client else "")
        if blocked is not None:
            # Zoho's per-IP throttle stands in front of everything else, whatever the org.
            return Response(blocked.content, blocked.status, media_type=blocked.media_type)
        admission: Admission | None = None
        headers: dict[str, str] = {}
        try:
            endpoint = self.endpoints.get(template, {}).get(request.method)
            if endpoint is None:
                if template in self.endpoints:
                    raise ZohoAPIFailure(405, 37, "The HTTP method is not allowed for the URL.")
                raise ZohoAPIFailure(404, 5, "Invalid URL Passed")
            location = request.path_params["location"]
            user_id = self._authenticate(request, location, endpoint.area)
            org = self._organization(request, user_id) if endpoint.needs_org else None
            admission = self.limiter.admit(org.organization_id if org else f"user:{user_id}")
            headers = admission.headers
            fault = self.world.faults.take(f"invoice.{request.method} {template}")
            if fault is not None:
                if fault.delay:
                    await self.world.sleep(fault.delay)
                if fault.status is not None:
                    content = b"" if fault.body is None else json.dumps(fault.body).encode()
                    return Response(
                        content,
                        status_code=fault.status,
                        headers={**headers, **dict(fault.headers)},
                        media_type="application/json",
                    )
            ctx = Context(
                request=request,
                books=None
                if org is None
                else Books(
                    self.store,
                    org.organization_id,
                    now=self.world.clock(),
                    currency_code=org.currency_code,
                ),
                org=org,
                user_id=user_id,
                path={k: str(v) for k, v in request.path_params.items()},
                query=dict(request.query_params),
                body=await _body(request, raw) if request.method in ("POST", "PUT") else {},
                files=await _extras_app.read_files(request) if request.method == "POST" else {},
                limits=self.limiter.limits,
            )
            # In a worker thread, as a real server works: requests of one organization truly
            # overlap (so code 1070 arises from load, not only from scripted delays) and the
            # event loop keeps serving. A write runs in one store transaction: atomic, and
            # serialised against the other writers on the SQLite connection.
            # Recurring profiles due by the world's clock make their invoices first (_recurring).
            handler = with_due_invoices(endpoint.handler)
            if request.method == "GET":
                result = await anyio.to_thread.run_sync(handler, ctx)
            else:
                result = await anyio.to_thread.run_sync(self._atomic, handler, ctx)
            if isinstance(result, Response):
                result.headers.update(headers)
                return result
            return JSONResponse(result, status_code=endpoint.status, headers=headers)
        except ZohoAPIFailure as failure:
            return JSONResponse(
                {"code": failure.code, "message": failure.message},
                status_code=failure.status_code,
                headers={**headers, **failure.headers},
            )
        finally:
            if admission is not None:
                self.limiter.release(admission)

    def _atomic(self, handler: Handler, ctx: Context) -> Payload:
        with self.store.transaction():
            return handler(ctx)

    def _authenticate(self, request: Request, location: str, area: str) -> str:
        values = request.headers.getlist("authorization")
        scheme, _, token = (values[0] if len(values) == 1 else "").partition(" ")
        if scheme != "Zoho-oauthtoken" or not token or " " in token.strip():
            raise ZohoAPIFailure(401, 14, "Invalid OAuth token.")
        grant = self.world.authenticate(token.strip())
        unauthorized = ZohoAPIFailure(401, 57, "You are not authorized to perform this operation")
        if grant is None or grant.expires_at <= self.world.clock() or grant.location != location:
            raise unauthorized
        op = _OPS[request.method]
        wanted = {
            f"zohoinvoice.{area}.{op}".lower(),
            f"zohoinvoice.{area}.all",
            "zohoinvoice.fullaccess.all",
        }
        if not any(scope.lower() in wanted for scope in grant.scopes):
            raise unauthorized
        return str(grant.user_id)

    def _organization(self, request: Request, user_id: str) -> SimOrganization:
        header = request.headers.getlist("x-com-zoho-invoice-organizationid")
        query = request.query_params.getlist("organization_id")
        values = {v.strip() for v in (*header, *query)}
        if len(values) != 1:
            raise invalid("organization_id")
        org_id = values.pop()
        if not org_id.isdigit() or len(org_id) > 30:
            raise invalid("organization_id")
        for org in self.world.directory.organizations_for(user_id):
            if org.organization_id == org_id:
                return org
        raise _not_associated(org_id)


def _not_associated(org_id: str) -> ZohoAPIFailure:
    return ZohoAPIFailure(
        400, 6041, f"This user is not associated with the CompanyID/CompanyName:{org_id[:30]}."
    )


def _wants_pdf(ctx: Context) -> bool:
    if ctx.query.get("accept", "").lower() == "pdf":
        return True
    return "application/pdf" in ctx.request.headers.get("accept", "").lower()


async def _body(request: Request, raw: bytes) -> dict[str, Any]:
    """A JSON body, or the legacy ``JSONString`` form field (or query parameter)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # A multipart body may carry a file (an attachment); its JSONString part is bounded apart.
    if len(raw) > _MAX_BODY and content_type != "multipart/form-data":
        raise invalid("JSONString")
    text: str | None
    if content_type == "application/x-www-form-urlencoded":
        text = dict(parse_qsl(raw.decode("utf-8", "replace"))).get("JSONString")
    elif content_type == "multipart/form-data":
        form = await request.form()
        value = form.get("JSONString")
        text = value if isinstance(value, str) else None
    elif raw.strip():
        text = raw.decode("utf-8", "replace")
    else:
        text = request.query_params.get("JSONString")
    if text is None or not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError:
        raise invalid("JSONString") from None
    if not isinstance(body, dict):
        raise invalid("JSONString")
    return body


def _control_routes(api: _InvoiceAPI) -> list[Route]:
    async def limits(request: Request) -> Response:
        if request.method == "PUT":
            try:
                changes = json.loads(await request.body())
                if not isinstance(changes, dict):
                    raise ValueError("body")
                api.limiter.limits = api.limiter.limits.updated(changes)
            except ValueError as error:
                return JSONResponse({"error": f"invalid limits: {error}"}, status_code=400)
        return JSONResponse(api.limiter.limits.to_json())

    async def usage(request: Request) -> Response:
        api.limiter.reset()
        return Response(status_code=204)

    async def seed(request: Request) -> Response:
        try:
            spec = json.loads(await request.body())
            if not isinstance(spec, dict) or not str(spec.get("organization_id", "")).isdigit():
                raise ValueError("organization_id")
            counts: dict[str, int] = {}
            for name in ("contacts", "items", "invoices", "estimates"):
                value = spec.get(name, 0)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not 0 <= value <= 200_000
                ):
                    raise ValueError(name)
                counts[name] = value
            seed_value = spec.get("seed", 0)
            if isinstance(seed_value, bool) or not isinstance(seed_value, int):
                raise ValueError("seed")
        except ValueError as error:
            return JSONResponse({"error": f"invalid seed request: {error}"}, status_code=400)
        result = await anyio.to_thread.run_sync(
            lambda: seed_organization(
                api.world,
                str(spec["organization_id"]),
                contacts=counts["contacts"],
                items=counts["items"],
                invoices=counts["invoices"],
                estimates=counts["estimates"],
                seed=seed_value,
            )
        )
        return JSONResponse(result.to_json(), status_code=201)

    async def emails(request: Request) -> Response:
        org = request.query_params.get("organization_id", "")
        return JSONResponse({"emails": api.store.emails(org)})

    return [
        Route("/_sandbox/limits", limits, methods=["GET", "PUT"]),
        Route("/_sandbox/usage", usage, methods=["DELETE"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
        Route("/_sandbox/emails", emails, methods=["GET"]),
    ]


def _api_route(api: _InvoiceAPI, template: str) -> Route:
    async def endpoint(request: Request) -> Response:
        return await api.dispatch(request, template)

    return Route(
        "/{location}/invoice/v3" + template,
        endpoint,
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
    )


def create_invoice_app(world: SandboxWorld, limits: InvoiceLimits | None = None) -> Starlette:
    """The Invoice API of ``world`` (a ``SandboxWorld``), serving ``/{location}/invoice/v3/...``.

    The sandbox mounts it at ``/api``; its control endpoints are then under ``/api/_sandbox/``.
    The app's ``state.invoice_store`` and ``state.limiter`` are there for tests.
    """
    api = _InvoiceAPI(world, limits or InvoiceLimits())
    routes = [
        *_control_routes(api),
        *_settings_routes.control_routes(api.store),
        *(_api_route(api, t) for t in api.endpoints),
    ]

    async def unknown(request: Request) -> Response:
        return await api.dispatch(request, "/" + request.path_params["rest"])

    routes.append(
        Route(
            "/{location}/invoice/v3/{rest:path}",
            unknown,
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        )
    )
    app = Starlette(routes=routes)
    app.state.invoice_store = api.store
    app.state.limiter = api.limiter
    return app
