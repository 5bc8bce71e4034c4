"""Time as the database stores it: timezone-aware UTC, fixed-width ISO-8601 text.

Every module that writes a time to the store uses :func:`format_at`, so that text order is
time order and indexes on time columns work for range queries. Services take a ``clock``
callable (default :func:`utc_now`) so that tests control time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_at(at: datetime) -> str:
    """ISO-8601 UTC with microseconds, fixed width, so text order is time order."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("stored times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def format_optional(at: datetime | None) -> str | None:
    return format_at(at) if at is not None else None


def parse_optional(text: str | None) -> datetime | None:
    return parse_at(text) if text else None
