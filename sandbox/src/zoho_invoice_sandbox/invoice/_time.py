"""Zoho's time formats: ``2016-06-11T17:38:06-0700`` timestamps and ``2016-06-11`` dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def format_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> float:
    """Epoch seconds of a Zoho timestamp (``2016-06-11T17:38:06-0700``; ISO 8601 forms and a
    bare date, meaning midnight, work too; no offset means UTC). ValueError if bad."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date; ValueError otherwise."""
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)


def today(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()
