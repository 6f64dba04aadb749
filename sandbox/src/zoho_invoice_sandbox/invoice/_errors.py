"""The error answers of the simulated Invoice API: an HTTP status, Zoho's code and message."""

from __future__ import annotations


class ZohoAPIFailure(Exception):
    """Raised inside a handler; the app turns it into Zoho's JSON error envelope."""

    def __init__(
        self, status_code: int, code: int, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def invalid(field: str) -> ZohoAPIFailure:
    """400 code 2, Zoho's answer to a malformed or missing value."""
    return ZohoAPIFailure(400, 2, f"Invalid value passed for {field}")


def not_found(label: str) -> ZohoAPIFailure:
    """404 code 1002, Zoho's answer to an unknown id."""
    return ZohoAPIFailure(404, 1002, f"{label} does not exist.")
