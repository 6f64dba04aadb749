"""Custom fields: what real organizations keep on their invoices, estimates, contacts and items.

Zoho answers each record's fields as a list (``custom_fields``) whose entries name the field four
ways (``customfield_id``, ``api_name``, ``label``, ``index``) and give its ``value``, plus a
``custom_field_hash`` keyed by API name. Zoho's pages show different subsets of these keys, so
every one is optional and unknown keys are kept. A number in a value is an exact ``Decimal``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import ExactValue, ZohoID, ZohoModel, ZohoParams

__all__ = ["CustomField", "CustomFieldParams", "HasCustomFields"]

#: A custom field's value: text, a number (exact), a flag, or nothing.
CustomValue = ExactValue


class CustomField(ZohoModel):
    """One custom field of a record."""

    customfield_id: ZohoID | None = None
    api_name: str | None = None
    label: str | None = None
    index: int | None = None
    value: CustomValue = None
    value_formatted: CustomValue = None
    data_type: str | None = None

    def names(self) -> set[str]:
        """Every name this field answers to (id, API name, label; labels without case)."""
        found = {str(n) for n in (self.customfield_id, self.api_name) if n not in (None, "")}
        if self.label:
            found.add(self.label.casefold())
        return found


class HasCustomFields(ZohoModel):
    """Base of the records that carry custom fields."""

    custom_fields: list[CustomField] = Field(default_factory=list)
    custom_field_hash: dict[str, CustomValue] = Field(default_factory=dict)

    def custom_field(self, name: str) -> CustomField | None:
        """The field called ``name``: its id, its API name (``cf_po_ref``) or its label."""
        for field in self.custom_fields:
            if name in field.names() or name.casefold() in field.names():
                return field
        return None


class CustomFieldParams(ZohoParams):
    """A custom field to set: name it one way (id, API name, label or index) and give a value."""

    customfield_id: str | None = None
    api_name: str | None = None
    label: str | None = None
    index: int | None = None
    value: Any = None
