"""Pages of a list, and iterators that stream every item across pages.

``Page`` is one answer of a list endpoint: its items and Zoho's ``page_context``.
``PageIterator`` (``for``) and ``AsyncPageIterator`` (``async for``) fetch one page at a time and
hand out its items, so memory stays flat however many items there are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, create_model

from .types import PageContext

__all__ = ["AsyncPageIterator", "Page", "PageIterator"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of results: ``items`` and Zoho's ``page_context``."""

    items: list[M]
    page_context: PageContext

    @property
    def has_more(self) -> bool:
        return self.page_context.has_more_page

    def __iter__(self) -> Iterator[M]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_body(
        cls, body: dict[str, Any], key: str, model: type[M], *, page: int, per_page: int
    ) -> Page[M]:
        """The page in an answer already decoded; the same rules as :func:`parse_page`, which
        reads the answer's bytes (one envelope model for both)."""
        items, context = _contents(
            _envelope_for(key, model).model_validate(body), key, page=page, per_page=per_page
        )
        return cls(items=cast(list[M], items), page_context=context)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: int | None = None
    message: str | None = None
    page_context: PageContext | None = None


@lru_cache(maxsize=64)
def _envelope_for(key: str, model: type[BaseModel]) -> type[_Envelope]:
    # One model per list, so a page is parsed and validated in one pass from the raw bytes
    # (pydantic-core), not decoded to dicts first and validated after.
    # ``null`` for the list reads as no items, as an absent list does.
    fields: Any = {key: (list[model] | None, [])}  # type: ignore[valid-type]
    return create_model(f"{model.__name__}ListEnvelope", __base__=_Envelope, **fields)


def _contents(
    envelope: _Envelope, key: str, *, page: int, per_page: int
) -> tuple[list[Any], PageContext]:
    """The items and page context of a parsed envelope. Zoho's ``page_context`` (an object, or
    a list of one as its pages print it: ``PageContext`` reads both); without one, a full page
    suggests there may be more."""
    items: list[Any] = getattr(envelope, key) or []
    context = envelope.page_context or PageContext(
        page=page, per_page=per_page, has_more_page=len(items) >= per_page
    )
    return items, context


def parse_page(
    content: bytes, key: str, model: type[M], *, page: int, per_page: int
) -> tuple[int | None, Page[M]]:
    """Zoho's ``code`` and the page, parsed from the answer's bytes."""
    envelope = _envelope_for(key, model).model_validate_json(content)
    items, context = _contents(envelope, key, page=page, per_page=per_page)
    return envelope.code, Page(items=cast(list[M], items), page_context=context)


def _next_page(page: Page[Any], number: int) -> int | None:
    # An empty page ends the walk even if Zoho says more: never loop forever.
    if not page.items or not page.has_more:
        return None
    return number + 1


class PageIterator(Generic[M]):
    """Every item of a list, page after page (``for item in client.invoices.iter_all()``)."""

    def __init__(self, fetch: Callable[[int], Page[M]], *, start_page: int = 1) -> None:
        self._fetch = fetch
        self._start = start_page

    def pages(self) -> Iterator[Page[M]]:
        number: int | None = self._start
        while number is not None:
            page = self._fetch(number)
            following = _next_page(page, number)
            yield page
            # Not held while the next page is fetched: a caller that drops each page keeps one
            # page of models alive, not two (less for the collector's passes to walk).
            del page
            number = following

    def __iter__(self) -> Iterator[M]:
        for page in self.pages():
            yield from page.items


class AsyncPageIterator(Generic[M]):
    """Every item of a list, page after page (``async for item in client.invoices.iter_all()``)."""

    def __init__(self, fetch: Callable[[int], Awaitable[Page[M]]], *, start_page: int = 1) -> None:
        self._fetch = fetch
        self._start = start_page

    async def pages(self) -> AsyncIterator[Page[M]]:
        number: int | None = self._start
        while number is not None:
            page = await self._fetch(number)
            following = _next_page(page, number)
            yield page
            # As in PageIterator: the page is the caller's to keep or drop, not ours to hold
            # through the next request (50 pulls on one loop would otherwise keep 50 more).
            del page
            number = following

    async def __aiter__(self) -> AsyncIterator[M]:
        async for page in self.pages():
            for item in page.items:
                yield item
