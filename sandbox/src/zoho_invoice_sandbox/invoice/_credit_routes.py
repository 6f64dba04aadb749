"""The routes of credit notes, of the credits on invoices, and of recurring invoices.

Each handler turns a request into one call of the rules (``_credit_notes``, ``_recurring``) and
answers with Zoho's envelope keys (``creditnote``/``creditnotes``, ``creditnote_refund(s)``,
``invoices_credited``, ``apply_to_invoices``, ``credits``, ``use_credits``,
``recurring_invoice``/``recurring_invoices``). ``register(add)`` puts them in the app's table;
scopes: ``ZohoInvoice.creditnotes.*`` for credit notes, ``ZohoInvoice.invoices.*`` for the
invoice's side and for recurring invoices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._credit_notes import CreditNotes
from ._query import parse_list_query
from ._recurring import RecurringInvoices
from ._resources import CREDIT_NOTE_REFUNDS, CREDIT_NOTES, RECURRING_INVOICES, Resource

if TYPE_CHECKING:
    from ._app import Context, Payload

__all__ = ["register"]

Add = Callable[..., None]
_REPORTS = {
    CREDIT_NOTES: "Credit Notes",
    CREDIT_NOTE_REFUNDS: "Credit Note Refunds",
    RECURRING_INVOICES: "Recurring Invoices",
}


def _ok(message: str = "success", **data: Any) -> dict[str, Any]:
    return {"code": 0, "message": message, **data}


def _page(ctx: Context, res: Resource, where: list[str], params: list[Any]) -> dict[str, Any]:
    """One page of ``res`` as Zoho lists it: summaries plus ``page_context``."""
    books = ctx.b
    query = parse_list_query(res, ctx.query, books.today, ctx.limits)
    docs = books.store.select(
        res,
        books.org,
        where=[*query.where, *where],
        params=[*query.params, *params],
        order_by=query.order_by,
        limit=query.per_page + 1,
        offset=(query.page - 1) * query.per_page,
    )
    items = [
        {k: v for k, v in doc.items() if k not in res.summary_exclude}
        for doc in docs[: query.per_page]
    ]
    context = query.page_context(len(docs) > query.per_page)
    context["report_name"] = _REPORTS[res]
    context["applied_filter"] = ctx.query.get("filter_by") or "Status.All"
    return {res.plural: items, "page_context": context}


# -- credit notes -------------------------------------------------------------------------------


def list_credit_notes(ctx: Context) -> Payload:
    return _ok(**_page(ctx, CREDIT_NOTES, [], []))


def create_credit_note(ctx: Context) -> Payload:
    notes = CreditNotes(ctx.b)
    note = notes.save(ctx.body, invoice_id=ctx.query.get("invoice_id", ""))
    return _ok("The credit note has been created.", creditnote=notes.present(note))


def get_credit_note(ctx: Context) -> Payload:
    notes = CreditNotes(ctx.b)
    return _ok(creditnote=notes.present(notes.get(ctx.path["creditnote_id"])))


def update_credit_note(ctx: Context) -> Payload:
    notes = CreditNotes(ctx.b)
    note = notes.save(ctx.body, notes.get(ctx.path["creditnote_id"]))
    return _ok("Credit Note information has been updated.", creditnote=notes.present(note))


def delete_credit_note(ctx: Context) -> Payload:
    CreditNotes(ctx.b).delete(ctx.path["creditnote_id"])
    return _ok("The credit note has been deleted.")


_STATUS_MESSAGES = {
    "void": "The credit note has been marked as void.",
    "open": "The status of the credit note has been changed to open.",
    "draft": "The status of the credit note has been changed to draft.",
}


def _credit_note_status(target: str) -> Callable[[Context], Payload]:
    def handler(ctx: Context) -> Payload:
        CreditNotes(ctx.b).set_status(ctx.path["creditnote_id"], target)
        return _ok(_STATUS_MESSAGES[target])

    return handler


def apply_to_invoices(ctx: Context) -> Payload:
    applied = CreditNotes(ctx.b).apply_to_invoices(ctx.path["creditnote_id"], ctx.body)
    return _ok(
        "Credits have been applied to the invoice(s).", apply_to_invoices={"invoices": applied}
    )


def list_invoices_credited(ctx: Context) -> Payload:
    notes = CreditNotes(ctx.b)
    notes.get(ctx.path["creditnote_id"])
    return _ok(invoices_credited=notes.invoices_credited(ctx.path["creditnote_id"]))


def delete_invoice_credited(ctx: Context) -> Payload:
    CreditNotes(ctx.b).delete_credit(
        ctx.path["creditnote_invoice_id"], creditnote_id=ctx.path["creditnote_id"]
    )
    return _ok("Credits applied to an invoice have been deleted.")


# -- refunds ------------------------------------------------------------------------------------


def list_all_refunds(ctx: Context) -> Payload:
    return _ok(**_page(ctx, CREDIT_NOTE_REFUNDS, [], []))


def list_refunds(ctx: Context) -> Payload:
    note_id = ctx.path["creditnote_id"]
    CreditNotes(ctx.b).get(note_id)
    return _ok(**_page(ctx, CREDIT_NOTE_REFUNDS, ["creditnote_id = ?"], [note_id]))


def create_refund(ctx: Context) -> Payload:
    refund = CreditNotes(ctx.b).save_refund(ctx.path["creditnote_id"], ctx.body)
    return _ok(
        "The refund information for this credit note has been saved.", creditnote_refund=refund
    )


def get_refund(ctx: Context) -> Payload:
    refund = CreditNotes(ctx.b).get_refund(
        ctx.path["creditnote_id"], ctx.path["creditnote_refund_id"]
    )
    return _ok(creditnote_refund=refund)


def update_refund(ctx: Context) -> Payload:
    refund = CreditNotes(ctx.b).save_refund(
        ctx.path["creditnote_id"], ctx.body, ctx.path["creditnote_refund_id"]
    )
    return _ok("Refund information has been saved.", creditnote_refund=refund)


def delete_refund(ctx: Context) -> Payload:
    CreditNotes(ctx.b).delete_refund(ctx.path["creditnote_id"], ctx.path["creditnote_refund_id"])
    return _ok("The refund has been successfully deleted.")


# -- the invoice's side -------------------------------------------------------------------------


def list_credits_applied(ctx: Context) -> Payload:
    return _ok(credits=CreditNotes(ctx.b).credits_applied(ctx.path["invoice_id"]))


def apply_credits(ctx: Context) -> Payload:
    used = CreditNotes(ctx.b).use_credits(ctx.path["invoice_id"], ctx.body)
    return _ok("Credits have been applied to the invoice.", use_credits=used)


def delete_credit_applied(ctx: Context) -> Payload:
    CreditNotes(ctx.b).delete_credit(
        ctx.path["creditnotes_invoice_id"], invoice_id=ctx.path["invoice_id"]
    )
    return _ok("Credits applied to an invoice have been deleted.")


# -- recurring invoices -------------------------------------------------------------------------


def list_recurring(ctx: Context) -> Payload:
    return _ok(**_page(ctx, RECURRING_INVOICES, [], []))


def create_recurring(ctx: Context) -> Payload:
    doc = RecurringInvoices(ctx.b).save(ctx.body)
    return _ok("Recurring invoice has been created.", recurring_invoice=doc)


def get_recurring(ctx: Context) -> Payload:
    return _ok(recurring_invoice=RecurringInvoices(ctx.b).get(ctx.path["recurring_invoice_id"]))


def update_recurring(ctx: Context) -> Payload:
    profiles = RecurringInvoices(ctx.b)
    doc = profiles.save(ctx.body, profiles.get(ctx.path["recurring_invoice_id"]))
    return _ok("Recurring invoice information has been updated.", recurring_invoice=doc)


def delete_recurring(ctx: Context) -> Payload:
    RecurringInvoices(ctx.b).delete(ctx.path["recurring_invoice_id"])
    return _ok("The recurring invoice has been deleted.")


def stop_recurring(ctx: Context) -> Payload:
    RecurringInvoices(ctx.b).stop(ctx.path["recurring_invoice_id"])
    return _ok("The recurring invoice has been stopped.")


def resume_recurring(ctx: Context) -> Payload:
    RecurringInvoices(ctx.b).resume(ctx.path["recurring_invoice_id"])
    return _ok("The recurring invoice has been activated.")


def register(add: Add) -> None:
    """Put every route of this module in the app's table (``add(method, template, area, fn)``).

    ``/creditnotes/refunds`` comes before ``/creditnotes/{creditnote_id}`` so that it is not
    read as a credit note id.
    """
    cn = "/creditnotes/{creditnote_id}"
    add("GET", "/creditnotes/refunds", "creditnotes", list_all_refunds)
    add("GET", "/creditnotes", "creditnotes", list_credit_notes)
    add("POST", "/creditnotes", "creditnotes", create_credit_note, status=201)
    add("GET", cn, "creditnotes", get_credit_note)
    add("PUT", cn, "creditnotes", update_credit_note)
    add("DELETE", cn, "creditnotes", delete_credit_note)
    for target in ("void", "open", "draft"):
        add("POST", f"{cn}/status/{target}", "creditnotes", _credit_note_status(target))
    add("GET", f"{cn}/invoices", "creditnotes", list_invoices_credited)
    add("POST", f"{cn}/invoices", "creditnotes", apply_to_invoices, status=201)
    add("DELETE", f"{cn}/invoices/{{creditnote_invoice_id}}", "creditnotes",
        delete_invoice_credited)  # fmt: skip
    add("GET", f"{cn}/refunds", "creditnotes", list_refunds)
    add("POST", f"{cn}/refunds", "creditnotes", create_refund, status=201)
    refund = f"{cn}/refunds/{{creditnote_refund_id}}"
    add("GET", refund, "creditnotes", get_refund)
    add("PUT", refund, "creditnotes", update_refund)
    add("DELETE", refund, "creditnotes", delete_refund)

    inv = "/invoices/{invoice_id}"
    add("GET", f"{inv}/creditsapplied", "invoices", list_credits_applied)
    add("POST", f"{inv}/credits", "invoices", apply_credits, status=201)
    add("DELETE", f"{inv}/creditsapplied/{{creditnotes_invoice_id}}", "invoices",
        delete_credit_applied)  # fmt: skip

    ri = "/recurringinvoices/{recurring_invoice_id}"
    add("GET", "/recurringinvoices", "invoices", list_recurring)
    add("POST", "/recurringinvoices", "invoices", create_recurring, status=201)
    add("GET", ri, "invoices", get_recurring)
    add("PUT", ri, "invoices", update_recurring)
    add("DELETE", ri, "invoices", delete_recurring)
    add("POST", f"{ri}/status/stop", "invoices", stop_recurring)
    add("POST", f"{ri}/status/resume", "invoices", resume_recurring)
