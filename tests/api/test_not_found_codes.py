"""Unit tests: Zoho's "does not exist" codes are NotFoundError whatever the HTTP status, and the
codes of records that exist but cannot change are BadRequestError (docs/zoho/sandbox-rules.md)."""

from __future__ import annotations

import pytest

from api._fakes import zoho
from zoho_invoice import APIError, BadRequestError, NotFoundError
from zoho_invoice.api._errors import make_api_error


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, 2006, NotFoundError),
        (400, 2006, NotFoundError),
        (200, 2006, NotFoundError),
        (400, 1002, NotFoundError),
        (400, 3000, BadRequestError),
        (400, 3062, BadRequestError),
        (400, 1000, BadRequestError),
        (400, 2049, BadRequestError),
        (400, 24016, BadRequestError),
    ],
)
def test_resource_codes_map_to_class(status: int, code: int, expected: type[APIError]) -> None:
    error = make_api_error(status, zoho(status, code, "Item does not exist").content)
    assert type(error) is expected
    assert (error.status_code, error.code) == (status, code)
