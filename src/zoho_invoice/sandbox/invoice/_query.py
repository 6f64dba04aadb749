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
from ._resources import INVOICES, Field, Resource
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

    @property
    def order_by(self) -> str:
        direction = "ASC" if self.sort_order == "A" else "DESC"
        return f"{self.sort_column} {direction}, id {direction}"

    def page_context(self, has_more: bool) -> dict[str, Any]:
        return {
            "page": self.page,
            "per_page": self.per_page,
            "has_more_page": has_more,
            "report_name": "",
            "applied_filter": "",
            "sort_column": self.sort_column,
            "sort_order": self.sort_order,
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


def parse_list_query(res: Resource, query: Mapping[str, str], today: date) -> ListQuery:
    """Read ``page``, ``per_page``, ``sort_*``, filters and ``search_text``; 400 code 2 if bad."""
    result = ListQuery(
        page=_positive(query.get("page"), "page", 1, 10_000_000),
        per_page=_positive(query.get("per_page"), "per_page", MAX_PER_PAGE, MAX_PER_PAGE),
        sort_column=query.get("sort_column") or res.default_sort,
        sort_order=query.get("sort_order") or res.default_order,
    )
    if res.field(result.sort_column) is None:
        raise invalid("sort_column")
    if result.sort_order not in ("A", "D"):
        raise invalid("sort_order")

    status = query.get("status")
    filter_by = query.get("filter_by")
    if filter_by:
        prefix, _, name = filter_by.partition(".")
        if prefix.lower() != "status" or name.lower() not in _FILTER_BY:
            raise invalid("filter_by")
        status = _FILTER_BY[name.lower()] or status
    if status and res.field("status") is not None:
        clause, params = _status_clause(res, status, today)
        result.where.append(clause)
        result.params.extend(params)

    for name, raw in query.items():
        if name in ("status", "page", "per_page", "sort_column", "sort_order", "filter_by"):
            continue
        if name == "search_text":
            if raw:
                ors = " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in res.search)
                result.where.append(f"({ors})")
                result.params.extend(f"%{_like(raw)}%" for _ in res.search)
            continue
        spec, op = _match(res, name)
        if spec is None:
            continue  # Zoho ignores parameters it does not know
        if len(raw) > 500:
            raise invalid(name)
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


def _match(res: Resource, name: str) -> tuple[Field | None, str]:
    """The field and operator a parameter names (``total_greater_than`` → total, ``>``)."""
    spec = res.field(name)
    if spec is not None:
        # Zoho's ``last_modified_time=`` means "changed since".
        return spec, ">=" if spec.kind == "time" else "="
    for suffix, op in (*_TEXT_SUFFIXES.items(), *_RANGE_SUFFIXES.items()):
        if suffix and name.endswith(suffix):
            spec = res.field(name[: -len(suffix)])
            if spec is None:
                continue
            if (spec.kind == "text") != (op in ("startswith", "contains")):
                return None, op
            return spec, op
    return None, ""
