"""Epoch milliseconds <-> timezone-aware datetimes, exact in both directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracking.errors import InvalidParameterValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // _MS


def datetime_to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // _MS


def ms_to_datetime(milliseconds: int, field: str = "timestamp") -> datetime:
    if not 0 <= milliseconds <= MAX_MS:
        raise InvalidParameterValue(
            f"Invalid value {milliseconds} for parameter '{field}': expected milliseconds since the epoch "
            f"between 0 and {MAX_MS}."
        )
    return EPOCH + timedelta(milliseconds=milliseconds)


def now_to_the_ms() -> datetime:
    """The current time to the millisecond: what the wire can say, so that a filter on a time
    the client was given (`created_time > t`) compares with what is stored, not a finer value."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
