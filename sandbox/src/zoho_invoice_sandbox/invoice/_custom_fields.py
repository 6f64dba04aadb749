"""Custom fields on invoices, estimates, contacts and items, kept and answered as Zoho does.

A request names each field by ``customfield_id``, ``api_name``, ``label`` or ``index`` and gives
its ``value``; the answer lists every field with all four plus ``value_formatted`` and
``data_type``, and a ``custom_field_hash``
(``{"cf_vat_id": "GB1", "cf_vat_id_unformatted": "GB1"}``).
The sandbox has no custom-field settings: a field is known by the names the requests use, and the
same label gives the same id everywhere in the organization. An update changes the fields it
names and keeps the others. Sources: docs/zoho/sandbox-rules.md.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

from ._errors import invalid

__all__ = ["custom_field_hash", "merge_custom_fields"]

_MAX_FIELDS = 100
_MAX_VALUE = 5000
_NAME = re.compile(r"[^0-9a-z]+")
_KEYS = ("customfield_id", "api_name", "label", "index")


def _name(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 200:
        raise invalid("custom_fields")
    return str(value).strip()


def _entry(raw: Any) -> dict[str, Any]:
    """One field of a request, checked, with the names it gives (others filled in later)."""
    if not isinstance(raw, dict) or "value" not in raw:
        raise invalid("custom_fields")
    value = raw["value"]
    if not (value is None or isinstance(value, str | int | float | bool)):
        raise invalid("custom_fields")
    if isinstance(value, str) and len(value) > _MAX_VALUE:
        raise invalid("custom_fields")
    if isinstance(value, float) and value != value:  # NaN
        raise invalid("custom_fields")
    entry: dict[str, Any] = {"value": value}
    for key in ("customfield_id", "api_name", "label"):
        if raw.get(key) not in (None, ""):
            entry[key] = _name(raw[key])
    if raw.get("index") not in (None, ""):
        index = raw["index"]
        if isinstance(index, bool) or not str(index).isdigit() or not 1 <= int(index) <= 1000:
            raise invalid("custom_fields")
        entry["index"] = int(index)
    if not any(key in entry for key in _KEYS):
        raise invalid("custom_fields")
    return entry


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    for key in _KEYS:
        if key in a and key in b and a[key] not in (None, ""):
            left, right = a[key], b[key]
            if key == "label":
                return str(left).casefold() == str(right).casefold()
            return str(left) == str(right)
    return False


def _complete(entry: dict[str, Any], position: int) -> dict[str, Any]:
    """A field as Zoho answers it: every name filled in, value formatted, data type."""
    label = entry.get("label") or (
        entry["api_name"].removeprefix("cf_").replace("_", " ").title()
        if entry.get("api_name")
        else f"Custom Field {entry.get('index') or entry.get('customfield_id')}"
    )
    api_name = entry.get("api_name") or "cf_" + _NAME.sub("_", label.lower()).strip("_")
    value = entry["value"]
    data_type = (
        "check_box"
        if isinstance(value, bool)
        else "number"
        if isinstance(value, int)
        else "decimal"
        if isinstance(value, float)
        else "string"
    )
    formatted = (
        ("true" if value else "false")
        if isinstance(value, bool)
        else ""
        if value is None
        else str(value)
    )
    return {
        "customfield_id": entry.get("customfield_id")
        or str(46_000_000_000_000 + zlib.crc32(api_name.encode())),
        "index": entry.get("index") or position,
        "label": label,
        "api_name": api_name,
        "data_type": data_type,
        "value": value,
        "value_formatted": formatted,
    }


def merge_custom_fields(
    body: Mapping[str, Any], existing: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The document's fields after this request: named ones set, the others kept."""
    current: list[dict[str, Any]] = [dict(f) for f in (existing or {}).get("custom_fields", [])]
    raw = body.get("custom_fields")
    if raw is None:
        return current
    if not isinstance(raw, list) or len(raw) > _MAX_FIELDS:
        raise invalid("custom_fields")
    for position, item in enumerate(raw, start=1):
        entry = _entry(item)
        for index, field in enumerate(current):
            if _same(entry, field):
                current[index] = _complete({**field, **entry}, field.get("index") or position)
                break
        else:
            current.append(_complete(entry, len(current) + 1))
    return current


def custom_field_hash(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """``{api_name: formatted value, api_name + "_unformatted": value}`` for every field."""
    result: dict[str, Any] = {}
    for field in fields:
        result[field["api_name"]] = field["value_formatted"]
        result[f"{field['api_name']}_unformatted"] = field["value"]
    return result
