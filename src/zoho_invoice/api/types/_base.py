"""Shared pieces of the response models: the base class and Zoho's value quirks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator


def _id_to_str(value: Any) -> Any:
    # Zoho's ids exceed 2**53: a JSON number would lose digits in most languages, so we keep
    # them as text whatever form they arrived in.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def _blank_to_none(value: Any) -> Any:
    # Zoho sends "" for an unset date or amount rather than leaving the field out.
    if isinstance(value, str) and not value.strip():
        return None
    return value


#: A Zoho id: always a string.
ZohoID = Annotated[str, BeforeValidator(_id_to_str)]
#: An amount of money, exact (pydantic turns a JSON number into a Decimal through its text).
Money = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]
#: A calendar date (``2024-05-01``); ``""`` reads as ``None``.
ZohoDate = Annotated[date | None, BeforeValidator(_blank_to_none)]
#: A timestamp such as ``2016-06-11T17:38:06-0700``, read as an aware datetime.
ZohoDateTime = Annotated[datetime | None, BeforeValidator(_blank_to_none)]


def exact(value: Any) -> Any:
    """Every float in a value, however deep, as an exact ``Decimal`` (through ``str``)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    return value


_exact = exact


class ZohoModel(BaseModel):
    """Base of every response model: unknown fields are kept (``model_extra``), not dropped.

    Zoho's numbers with a fraction are amounts, rates and percentages: in undeclared fields too,
    a float becomes a ``Decimal`` (through ``str``, so ``0.1`` stays ``0.1``), never binary
    floating point.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="after")
    def _exact_extras(self) -> ZohoModel:
        extra = self.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                if isinstance(value, float | list | dict):
                    extra[key] = _exact(value)
        return self


class ZohoParams(BaseModel):
    """Base of request bodies: extra fields pass through to Zoho unchanged."""

    model_config = ConfigDict(extra="allow")

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)
