"""Pages and the event loop: the iterators hold no page of their own while they fetch the next
one (a caller that drops each page keeps one page of models alive at a time, however many pulls
run at once), and the async client parses a big page off its loop."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref

import pytest
from pydantic import model_validator

from api._fakes import Recorder, async_client, zoho
from zoho_invoice import NotFoundError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncPageIterator, Page, PageIterator
from zoho_invoice.api._base_client import RequestOptions
from zoho_invoice.api.types import Invoice, PageContext, ZohoModel


def _page(number: int, last: int) -> Page[Invoice]:
    return Page(
        items=[Invoice(invoice_id=f"{number}-{n}") for n in range(3)],
        page_context=PageContext(page=number, per_page=3, has_more_page=number < last),
    )


class _Pages:
    """A fetch that records, when asked for a page, whether the previous one is still alive."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.previous: weakref.ref[Page[Invoice]] | None = None
        self.alive_at_fetch: list[bool] = []

    def fetch(self, number: int) -> Page[Invoice]:
        if self.previous is not None:
            self.alive_at_fetch.append(self.previous() is not None)
        page = _page(number, self.last)
        self.previous = weakref.ref(page)
        return page


def test_the_sync_iterator_drops_a_page_before_fetching_the_next() -> None:
    pages = _Pages(last=4)
    seen = []
    for page in PageIterator(pages.fetch).pages():
        seen.append(page.page_context.page)
        del page  # the caller is done with it
    assert seen == [1, 2, 3, 4]
    assert pages.alive_at_fetch == [False, False, False]


def test_the_async_iterator_drops_a_page_before_fetching_the_next() -> None:
    pages = _Pages(last=4)

    async def fetch(number: int) -> Page[Invoice]:
        return pages.fetch(number)

    async def pull() -> list[int]:
        seen = []
        async for page in AsyncPageIterator(fetch).pages():
            seen.append(page.page_context.page)
            del page
        return seen

    assert asyncio.run(pull()) == [1, 2, 3, 4]
    assert pages.alive_at_fetch == [False, False, False]


def test_a_caller_may_keep_its_pages() -> None:
    kept = list(PageIterator(_Pages(last=3).fetch).pages())
    assert [page.page_context.page for page in kept] == [1, 2, 3]
    assert all(len(page) == 3 for page in kept)


class _Probe(ZohoModel):
    """A list row that notes the thread it was parsed on."""

    row_id: str

    @model_validator(mode="after")
    def _note_thread(self) -> _Probe:
        PARSED_ON.add(threading.get_ident())
        return self


PARSED_ON: set[int] = set()


def _rows(count: int) -> httpx.Response:
    rows = [{"row_id": str(n), "note": "x" * 200} for n in range(count)]
    return zoho(rows=rows, page_context={"page": 1, "per_page": 200, "has_more_page": False})


@pytest.mark.parametrize(("rows", "on_the_loop"), [(3, True), (200, False)])
def test_an_async_client_parses_a_big_page_off_its_loop(rows: int, on_the_loop: bool) -> None:
    client = async_client(Recorder(_rows(rows)))
    options = RequestOptions("GET", "/rows", params={"page": 1, "per_page": 200})

    async def fetch() -> tuple[int, Page[_Probe]]:
        page = await client._request_page(options, "rows", _Probe, 1, 200)
        return threading.get_ident(), page

    PARSED_ON.clear()
    loop_thread, page = asyncio.run(fetch())
    assert [row.row_id for row in page] == [str(n) for n in range(rows)]
    assert ({loop_thread} == PARSED_ON) is on_the_loop
    assert len(PARSED_ON) == 1


def test_an_error_in_a_big_answer_parsed_off_the_loop_is_raised() -> None:
    client = async_client(
        Recorder(zoho(code=1002, message="Invoice does not exist." + " " * 40_000))
    )
    options = RequestOptions("GET", "/rows", params={"page": 1, "per_page": 200})
    with pytest.raises(NotFoundError):
        asyncio.run(client._request_page(options, "rows", _Probe, 1, 200))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_parses_big_pages_too() -> None:
    # The parent's parser thread does not exist in a child: the child makes its own.
    client = async_client(Recorder(_rows(200)))
    options = RequestOptions("GET", "/rows", params={"page": 1, "per_page": 200})
    assert len(asyncio.run(client._request_page(options, "rows", _Probe, 1, 200))) == 200
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status only
        try:
            page = asyncio.run(
                asyncio.wait_for(client._request_page(options, "rows", _Probe, 1, 200), 30)
            )
            os._exit(0 if len(page) == 200 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
