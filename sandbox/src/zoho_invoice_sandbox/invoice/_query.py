"""List parameters → SQL: paging, sort and Zoho's suffix filters, on indexed columns.

Column names in the SQL come only from the resource definitions; values are always bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ._books import OPEN_STATUSES
from ._errors import invalid
from ._limits import InvoiceLimits
from ._resources import CONTACTS, INVOICES, Field, Resource
from ._time import parse_date, parse_timestamp

MAX_PER_PAGE = 200

_TEXT_SUFFIXES = {"": "=", "_startswith": "startswith", "_contains": "contains"}
_RANGE_SUFFIXES = {
    "_start": ">=",
    "_end": "<=",
    "_before": "<",
    "_after": ">",
    "_less_than": "<",
    "_less_equals": "<=",
    "_greater_than": ">",
    "_greater_equals": ">=",
}
#: ``filter_by=Status.PartiallyPaid`` → ``partially_paid``.
_FILTER_BY = {
    "all": None,
    "active": "active",
    "inactive": "inactive",
    "draft": "draft",
    "sent": "sent",
    "viewed": "viewed",
    "overdue": "overdue",
    "paid": "paid",
    "void": "void",
    "unpaid": "unpaid",
    "partiallypaid": "partially_paid",
    "accepted": "accepted",
    "declined": "declined",
}
#: The sort columns Zoho documents per list (docs/zoho/sandbox-rules.md); a list not named here
#: sorts by any of its columns but ``last_modified_time``, which Zoho documents as a sort of
#: contacts only (docs/zoho/mirror-lists.md): elsewhere it needs ``sort_by_last_modified``.
SORTABLE = {
    "invoices": (
        "customer_name",
        "invoice_number",
        "date",
        "due_date",
        "total",
        "balance",
        "created_time",
    ),
}
#: ``filter_by=Date.PaymentExpectedDate`` (invoices): those with a payment expected date.
_DATE_FILTERS = {"paymentexpecteddate": "payment_expected_date"}
#: ``custom_field``, ``custom_field_startswith``, ``custom_field_contains``: any custom field's
#: value (the JSON of the document; custom fields have no columns).
_CUSTOM_FIELD = (
    "EXISTS (SELECT 1 FROM json_each(doc, '$.custom_fields') "
    "WHERE CAST(json_extract(value, '$.value') AS TEXT) {op})"
)
_CUSTOM_FIELD_OPS = {
    "custom_field": ("= ? COLLATE NOCASE", "{}"),
    "custom_field_startswith": ("LIKE ? ESCAPE '\\'", "{}%"),
    "custom_field_contains": ("LIKE ? ESCAPE '\\'", "%{}%"),
}
#: ``page_context.report_name`` per list ("Invoices" is Zoho's documented one; the others follow
#: the same pattern).
_REPORT_NAMES = {"customerpayments": "Customer Payments"}
#: ``search_criteria[].comparator`` per filter suffix.
_COMPARATORS = {
    "=": "equal",
    "startswith": "starts_with",
    "contains": "contains",
    ">": "greater_than",
    ">=": "greater_equal",
    "<": "less_than",
    "<=": "less_equal",
}
INVOICE_STATUSES = (
    "sent",
    "draft",
    "overdue",
    "paid",
    "void",
    "unpaid",
    "partially_paid",
    "viewed",
)


@dataclass(slots=True)
class ListQuery:
    page: int
    per_page: int
    sort_column: str
    sort_order: str
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    #: What Zoho echoes in ``page_context``: the list's name, the ``filter_by`` in force
    #: ("Status.All" when none) and one entry per filter parameter.
    report_name: str = ""
    applied_filter: str = "Status.All"
    search_criteria: list[dict[str, Any]] = field(default_factory=list)

    @property
    def order_by(self) -> str:
        direction = "ASC" if self.sort_order == "A" else "DESC"
        return f"{self.sort_column} {direction}, id {direction}"

    def page_context(self, has_more: bool) -> dict[str, Any]:
        return {
            "page": self.page,
            "per_page": self.per_page,
            "has_more_page": has_more,
            "report_name": self.report_name,
            "applied_filter": self.applied_filter,
            "sort_column": self.sort_column,
            "sort_order": self.sort_order,
            "search_criteria": self.search_criteria,
        }


def _positive(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise invalid(name)
    return int(value)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _value(spec: Field, raw: str, name: str) -> Any:
    try:
        if spec.kind == "date":
            return parse_date(raw).isoformat()
        if spec.kind == "time":
            return parse_timestamp(raw)
        if spec.kind == "number":
            number = float(raw)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return number
    except ValueError:
        raise invalid(name) from None
    return raw


def _status_clause(res: Resource, status: str, today: date) -> tuple[str, list[Any]]:
    if res is not INVOICES:
        return "status = ?", [status]
    if status not in INVOICE_STATUSES:
        raise invalid("status")
    open_marks = ", ".join("?" for _ in OPEN_STATUSES)
    day = today.isoformat()
    if status == "unpaid":
        return f"status IN ({open_marks})", list(OPEN_STATUSES)
    if status == "overdue":
        return f"status IN ({open_marks}) AND due_date < ?", [*OPEN_STATUSES, day]
    if status in OPEN_STATUSES:
        return "status = ? AND due_date >= ?", [status, day]
    return "status = ?", [status]


#: The one list whose ``sort_column`` Zoho documents with ``last_modified_time`` in it, and the
#: one list whose ``last_modified_time`` filter it documents (docs/zoho/mirror-lists.md).
_SORTS_BY_MODIFIED = (CONTACTS,)
_FILTERS_BY_MODIFIED = (INVOICES,)
_MODIFIED = "last_modified_time"


def _sortable(res: Resource, column: str, rules: InvoiceLimits) -> bool:
    if res.field(column) is None:
        return False
    if column == _MODIFIED:
        return rules.sort_by_last_modified or res in _SORTS_BY_MODIFIED
    allowed = SORTABLE.get(res.table)
    return allowed is None or column in allowed


def parse_list_query(
    res: Resource,
    query: Mapping[str, str],
    today: date,
    rules: InvoiceLimits | None = None,
) -> ListQuery:
    """Read ``page``, ``per_page``, ``sort_*``, filters and ``search_text``; 400 code 2 if bad.

    ``rules`` (the sandbox's settings) choose how ``last_modified_time`` is read where Zoho's
    pages are silent: filter strictly after or inclusive, on every list or invoices only,
    sortable everywhere or on contacts only."""
    rules = rules or InvoiceLimits()
    result = ListQuery(
        page=_positive(query.get("page"), "page", 1, 10_000_000),
        per_page=_positive(query.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE),
        sort_column=query.get("sort_column") or res.default_sort,
        sort_order=query.get("sort_order") or res.default_order,
        report_name=_REPORT_NAMES.get(res.table, f"{res.label}s"),
    )
    if not _sortable(res, result.sort_column, rules):
        raise invalid("sort_column")
    if result.sort_order not in ("A", "D"):
        raise invalid("sort_order")

    status = query.get("status")
    filter_by = query.get("filter_by")
    if filter_by:
        prefix, _, name = filter_by.partition(".")
        if prefix.lower() == "date" and res is INVOICES and name.lower() in _DATE_FILTERS:
            path = f"$.{_DATE_FILTERS[name.lower()]}"
            result.where.append(f"COALESCE(json_extract(doc, '{path}'), '') != ''")
        elif prefix.lower() != "status" or name.lower() not in _FILTER_BY:
            raise invalid("filter_by")
        else:
            status = _FILTER_BY[name.lower()] or status
        result.applied_filter = filter_by[:100]
    if status and res.field("status") is not None:
        clause, params = _status_clause(res, status, today)
        result.where.append(clause)
        result.params.extend(params)

    for name, raw in query.items():
        if name in ("status", "page", "per_page", "sort_column", "sort_order", "filter_by"):
            continue
        if name in _CUSTOM_FIELD_OPS:
            if len(raw) > 500:
                raise invalid(name)
            op, pattern = _CUSTOM_FIELD_OPS[name]
            result.where.append(_CUSTOM_FIELD.format(op=op))
            result.params.append(pattern.format(raw if "=" in op else _like(raw)))
            comparator = "equal" if "=" in op else name.removeprefix("custom_field_")
            result.search_criteria.append(_criterion("custom_field", raw, comparator))
            continue
        if name == "search_text":
            if raw:
                ors = " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in res.search)
                result.where.append(f"({ors})")
                result.params.extend(f"%{_like(raw)}%" for _ in res.search)
            continue
        spec, op = _match(res, name, rules)
        if spec is None:
            continue  # Zoho ignores parameters it does not know
        if len(raw) > 500:
            raise invalid(name)
        result.search_criteria.append(_criterion(spec.name, raw, _COMPARATORS[op]))
        if op in ("startswith", "contains"):
            pattern = f"{_like(raw)}%" if op == "startswith" else f"%{_like(raw)}%"
            result.where.append(f"{spec.name} LIKE ? ESCAPE '\\'")
            result.params.append(pattern)
        elif op == "=" and spec.kind == "text":
            result.where.append(f"{spec.name} = ? COLLATE NOCASE")
            result.params.append(raw)
        else:
            result.where.append(f"{spec.name} {op} ?")
            result.params.append(_value(spec, raw, name))
    return result


def _criterion(column: str, text: str, comparator: str) -> dict[str, Any]:
    return {"column_name": column, "search_text": text, "comparator": comparator}


def _match(res: Resource, name: str, rules: InvoiceLimits) -> tuple[Field | None, str]:
    """The field and operator a parameter names (``total_greater_than`` → total, ``>``)."""
    spec = res.field(name)
    if spec is not None and name == _MODIFIED:
        # Zoho's ``last_modified_time=`` keeps what changed after that moment ("greater than" in
        # Zoho's words: strictly, unless the sandbox plays the inclusive reading); a list that
        # does not honour it ignores it, as Zoho ignores a parameter it does not know.
        if not (rules.modified_filter_everywhere or res in _FILTERS_BY_MODIFIED):
            return None, ""
        return spec, ">=" if rules.modified_filter == "inclusive" else ">"
    if spec is not None:
        # ``created_time=`` keeps what was created after that moment, as Zoho's modified filter.
        return spec, ">" if spec.kind == "time" else "="
    for suffix, op in (*_TEXT_SUFFIXES.items(), *_RANGE_SUFFIXES.items()):
        if suffix and name.endswith(suffix):
            spec = res.field(name[: -len(suffix)])
            if spec is None:
                continue
            if (spec.kind == "text") != (op in ("startswith", "contains")):
                return None, op
            return spec, op
    return None, ""
