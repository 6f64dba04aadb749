"""Shared pieces of the response models: the base class and Zoho's value quirks.

Each quirk is a pydantic-core schema, not a Python validator: a 200-invoice page has some 2,400
money, date and id values, and a Python call for each of them was most of what parsing a page
cost. The schemas below stay inside pydantic-core for the values Zoho usually sends and call
Python only for the rare one that needs it (a blank ``""`` read as ``None``, a numeric id read as
text). The static types stay what users see (``str``, ``Decimal | None``, ``date | None``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
)
from pydantic_core import core_schema
from typing_extensions import TypeAliasType


def _none(_blank: str) -> None:
    return None


# Zoho sends "" (or blanks) for an unset date or amount rather than leaving the field out.
_BLANK_AS_NONE = core_schema.no_info_after_validator_function(
    _none, core_schema.str_schema(pattern=r"^\s*$")
)


def _or_blank(schema: core_schema.CoreSchema) -> GetPydanticSchema:
    """``schema``, or ``None`` for ``null`` and a blank string, tried in that order."""
    union = core_schema.union_schema([schema, _BLANK_AS_NONE], mode="left_to_right")
    return GetPydanticSchema(lambda _type, _handler: core_schema.nullable_schema(union))


# Zoho's ids exceed 2**53: a JSON number would lose digits in most languages, so we keep them as
# text whatever form they arrived in (a whole number becomes its digits; a bool or a float is
# refused, as a string field would refuse it).
_ID_SCHEMA = core_schema.union_schema(
    [
        core_schema.str_schema(),
        core_schema.no_info_after_validator_function(str, core_schema.int_schema(strict=True)),
    ],
    mode="left_to_right",
)

#: A Zoho id: always a string.
ZohoID = Annotated[str, GetPydanticSchema(lambda _type, _handler: _ID_SCHEMA)]
#: An amount of money, exact (pydantic-core reads a JSON number into a Decimal, never binary
#: floating point arithmetic); ``""`` reads as ``None``.
Money = Annotated[Decimal | None, _or_blank(core_schema.decimal_schema())]


def _percent_text(value: str) -> str:
    return "".join(value.split())


# "12.5%", "5 %": a number of percent as Zoho writes it (whitespace dropped, digits kept as sent).
_PERCENT_TEXT = core_schema.no_info_after_validator_function(
    _percent_text, core_schema.str_schema(pattern=r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*%\s*$")
)
#: A discount, as Zoho documents it for a document and for a line item: "either in % or in
#: amount. e.g. 12.5% or 190" (docs/zoho/README.md). An amount reads as an exact ``Decimal``, a
#: percentage as its text (``"12.5%"``: exact, and never mistaken for an amount in a sum);
#: ``""`` reads as ``None``.
Discount = Annotated[
    Decimal | str | None,
    _or_blank(
        core_schema.union_schema(
            [core_schema.decimal_schema(), _PERCENT_TEXT], mode="left_to_right"
        )
    ),
]
#: A calendar date (``2024-05-01``); ``""`` reads as ``None``.
ZohoDate = Annotated[date | None, _or_blank(core_schema.date_schema())]
#: A timestamp such as ``2016-06-11T17:38:06-0700``, read as an aware datetime; ``""`` is ``None``.
ZohoDateTime = Annotated[datetime | None, _or_blank(core_schema.datetime_schema())]

# Any JSON value with every number that has a fraction as an exact Decimal, however deep, as a
# schema (no Python runs per value): null, true/false, whole numbers and text are kept as they
# are; a float becomes a Decimal through its text (0.1 stays 0.1); lists and objects are walked.
# Anything else (a Python object given to a model directly) is kept as it is.
if TYPE_CHECKING:
    # mypy cannot follow a recursive TypeAliasType; to users these values are Any anyway.
    _ExactJson: TypeAlias = Any
else:
    _ExactJson = TypeAliasType(
        "_ExactJson",
        Annotated[
            StrictBool
            | StrictInt
            | StrictStr
            | Decimal
            | Annotated[list["_ExactJson"], Strict()]
            | Annotated[dict[str, "_ExactJson"], Strict()]
            | Any,
            Field(union_mode="left_to_right"),
        ]
        | None,
    )

#: A value of unknown shape (an undeclared field, a custom field's value): numbers exact.
ExactValue = Annotated[
    Any, GetPydanticSchema(lambda _type, handler: handler.generate_schema(_ExactJson))
]


class ZohoModel(BaseModel):
    """Base of every response model: unknown fields are kept (``model_extra``), not dropped.

    Zoho's numbers with a fraction are amounts, rates and percentages: in undeclared fields too,
    a float becomes a ``Decimal`` (through ``str``, so ``0.1`` stays ``0.1``), never binary
    floating point. The extras are validated by ``ExactValue`` inside pydantic-core (no Python
    validator runs per record).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    __pydantic_extra__: dict[str, ExactValue] = Field(init=False)


class ZohoParams(BaseModel):
    """Base of request bodies: extra fields pass through to Zoho unchanged."""

    model_config = ConfigDict(extra="allow")

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)
