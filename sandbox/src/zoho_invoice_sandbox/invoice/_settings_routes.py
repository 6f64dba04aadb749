"""The simulator's endpoints for taxes, tax groups, currencies, contact persons and users.

``register(add, world)`` puts them in the app's table of endpoints (``_app._InvoiceAPI._add``);
``control_routes(store)`` serves ``/_sandbox/taxes`` (GET, PUT ``{"line_tax": ...}``), the
setting of what an invoice line without a tax meets. Answers follow Zoho's documented shapes
(docs/zoho/resources-core.md): ``{"code": 0, "message": ..., "tax": {...}}`` and so on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._contact_persons import ContactPersons
from ._errors import ZohoAPIFailure, invalid
from ._settings import OrgSettings, rules_for, set_rules
from ._store import InvoiceStore

if TYPE_CHECKING:  # the world imports this package's store: no import at run time
    from .._world import SandboxWorld

__all__ = ["books_settings", "control_routes", "register"]

_MAX_PER_PAGE = 200


class _Books(Protocol):
    store: InvoiceStore
    org: str
    currency_code: str

    @property
    def today(self) -> Any: ...


class _Ctx(Protocol):
    path: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    user_id: str

    @property
    def b(self) -> Any: ...

    @property
    def org(self) -> Any: ...


Add = Callable[..., None]


def books_settings(books: _Books) -> OrgSettings:
    """The settings of the organization a ``Books`` works on."""
    return OrgSettings(books.store, books.org, books.currency_code, books.today.isoformat())


def _ok(message: str = "success", **data: Any) -> dict[str, Any]:
    return {"code": 0, "message": message, **data}


def _paging(query: dict[str, str]) -> tuple[int, int]:
    try:
        page = int(query.get("page", "1"))
        per_page = int(query.get("per_page", str(_MAX_PER_PAGE)))
    except ValueError:
        raise invalid("page") from None
    if page < 1 or not 1 <= per_page <= _MAX_PER_PAGE:
        raise invalid("per_page" if page >= 1 else "page")
    return page, per_page


def _context(page: int, per_page: int, more: bool, sort_column: str) -> dict[str, Any]:
    return {
        "page": page,
        "per_page": per_page,
        "has_more_page": more,
        "report_name": "",
        "applied_filter": "",
        "sort_column": sort_column,
        "sort_order": "A",
    }


def register(add: Add, world: SandboxWorld) -> None:
    """Add the endpoints; call it before the generic ``/contacts/{contact_id}`` ones, so that
    ``/contacts/contactpersons`` is not read as a contact id."""

    def settings(ctx: _Ctx) -> OrgSettings:
        return books_settings(ctx.b)

    # -- taxes and tax groups ------------------------------------------------------------------
    def list_taxes(ctx: _Ctx) -> Any:
        page, per_page = _paging(ctx.query)
        taxes, more, groups = settings(ctx).taxes(page, per_page)
        answer = _ok(taxes=taxes, page_context=_context(page, per_page, more, "tax_name"))
        if groups is not None:
            answer["tax_groups"] = groups
        return answer

    def get_tax(ctx: _Ctx) -> Any:
        return _ok(tax=settings(ctx).tax(ctx.path["tax_id"]))

    def create_tax(ctx: _Ctx) -> Any:
        return _ok("The tax has been added.", tax=settings(ctx).save_tax(ctx.body))

    def update_tax(ctx: _Ctx) -> Any:
        tax = settings(ctx).save_tax(ctx.body, ctx.path["tax_id"])
        return _ok("Tax information has been saved.", tax=tax)

    def delete_tax(ctx: _Ctx) -> Any:
        settings(ctx).delete_tax(ctx.path["tax_id"])
        return _ok("The record has been deleted.")

    def get_group(ctx: _Ctx) -> Any:
        return _ok(tax_group=settings(ctx).group(ctx.path["tax_group_id"]))

    def create_group(ctx: _Ctx) -> Any:
        group = settings(ctx).save_group(ctx.body)
        return _ok("The tax group has been created.", tax_group=group)

    def update_group(ctx: _Ctx) -> Any:
        group = settings(ctx).save_group(ctx.body, ctx.path["tax_group_id"])
        return _ok("Tax Group information has been saved.", tax_group=group)

    def delete_group(ctx: _Ctx) -> Any:
        settings(ctx).delete_group(ctx.path["tax_group_id"])
        return _ok("The tax group has been deleted.")

    add("GET", "/settings/taxes", "settings", list_taxes)
    add("POST", "/settings/taxes", "settings", create_tax, status=201)
    add("GET", "/settings/taxes/{tax_id}", "settings", get_tax)
    add("PUT", "/settings/taxes/{tax_id}", "settings", update_tax)
    add("DELETE", "/settings/taxes/{tax_id}", "settings", delete_tax)
    add("POST", "/settings/taxgroups", "settings", create_group, status=201)
    add("GET", "/settings/taxgroups/{tax_group_id}", "settings", get_group)
    add("PUT", "/settings/taxgroups/{tax_group_id}", "settings", update_group)
    add("DELETE", "/settings/taxgroups/{tax_group_id}", "settings", delete_group)

    # -- currencies ------------------------------------------------------------------------------
    def list_currencies(ctx: _Ctx) -> Any:
        page, per_page = _paging(ctx.query)
        filter_by = ctx.query.get("filter_by", "")
        if filter_by not in ("", "Currencies.ExcludeBaseCurrency"):
            raise invalid("filter_by")
        docs, more = settings(ctx).currencies(
            page, per_page, exclude_base=filter_by == "Currencies.ExcludeBaseCurrency"
        )
        return _ok(currencies=docs, page_context=_context(page, per_page, more, "currency_code"))

    def get_currency(ctx: _Ctx) -> Any:
        return _ok(currency=settings(ctx).currency(ctx.path["currency_id"]))

    add("GET", "/settings/currencies", "settings", list_currencies)
    add("GET", "/settings/currencies/{currency_id}", "settings", get_currency)

    # -- contact persons -------------------------------------------------------------------------
    def persons(ctx: _Ctx) -> ContactPersons:
        return ContactPersons(ctx.b.store, ctx.b.org)

    def list_persons(ctx: _Ctx) -> Any:
        page, per_page = _paging(ctx.query)
        docs, more = persons(ctx).list(ctx.path["contact_id"], page, per_page)
        context = _context(page, per_page, more, "contact_person_id")
        return _ok(contact_persons=docs, page_context=context)

    def get_person(ctx: _Ctx) -> Any:
        person = persons(ctx).get(ctx.path["contact_id"], ctx.path["contact_person_id"])
        return _ok(contact_person=person)

    def create_person(ctx: _Ctx) -> Any:
        person = persons(ctx).create(ctx.body)
        return _ok("The contactperson has been Created", contact_person=person)

    def update_person(ctx: _Ctx) -> Any:
        person = persons(ctx).update(ctx.path["contact_person_id"], ctx.body)
        return _ok("The contactperson details has been updated", contact_person=person)

    def delete_person(ctx: _Ctx) -> Any:
        persons(ctx).delete(ctx.path["contact_person_id"])
        return _ok("The contact person has been deleted.")

    def primary_person(ctx: _Ctx) -> Any:
        persons(ctx).mark_primary(ctx.path["contact_person_id"])
        return _ok("This contact person has been marked as your primary contact person.")

    one = "/contacts/contactpersons/{contact_person_id}"
    add("POST", "/contacts/contactpersons", "contacts", create_person, status=201)
    add("PUT", one, "contacts", update_person)
    add("DELETE", one, "contacts", delete_person)
    add("POST", one + "/primary", "contacts", primary_person)
    add("GET", "/contacts/{contact_id}/contactpersons", "contacts", list_persons)
    add("GET", "/contacts/{contact_id}/contactpersons/{contact_person_id}", "contacts", get_person)

    # -- users -------------------------------------------------------------------------------------
    def user_json(user: Any, org: Any, current: str) -> dict[str, Any]:
        return {
            "user_id": user.user_id,
            "name": user.display_name,
            "email": user.email,
            "user_role": "admin" if org.owner_user_id == user.user_id else "staff",
            "status": "active",
            "is_current_user": user.user_id == current,
            "user_type": "zoho",
        }

    def org_users(ctx: _Ctx) -> list[Any]:
        org_id = ctx.org.organization_id
        return [u for u in world.directory.users if org_id in u.organization_ids]

    def list_users(ctx: _Ctx) -> Any:
        page, per_page = _paging(ctx.query)
        users = org_users(ctx)
        start = (page - 1) * per_page
        shown = [user_json(u, ctx.org, ctx.user_id) for u in users[start : start + per_page]]
        more = len(users) > start + per_page
        return _ok(users=shown, page_context=_context(page, per_page, more, "name"))

    def get_user(ctx: _Ctx) -> Any:
        for user in org_users(ctx):
            if user.user_id == ctx.path["user_id"]:
                return _ok(user=user_json(user, ctx.org, ctx.user_id))
        raise ZohoAPIFailure(404, 1002, "User does not exist.")

    add("GET", "/users", "settings", list_users)
    add("GET", "/users/{user_id}", "settings", get_user)


def control_routes(store: InvoiceStore) -> list[Route]:
    """``/_sandbox/taxes``: read or change the tax rules (``{"line_tax": "registered",
    "group_listing": "inline"}``, see ``_settings.TaxRules``)."""

    async def taxes(request: Request) -> Response:
        if request.method == "PUT":
            try:
                changes = json.loads(await request.body())
                if not isinstance(changes, dict):
                    raise ValueError("body")
                set_rules(store, rules_for(store).updated(changes))
            except ValueError as error:
                return JSONResponse({"error": f"invalid tax rules: {error}"}, status_code=400)
        return JSONResponse(rules_for(store).to_json())

    return [Route("/_sandbox/taxes", taxes, methods=["GET", "PUT"])]
