"""Small pieces the studio's pages share: the page number of a paged list, and durations as
people read them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

# Past this, a page number is a typo or a probe, not a list anyone pages through.
MAX_PAGE = 10**6


def page_number(request: HttpRequest) -> int:
    """`?page=`, 1 when missing or not a number."""
    try:
        return max(1, min(int(request.GET.get("page", "1")), MAX_PAGE))
    except ValueError:
        return 1


def format_duration(duration: timedelta | None) -> str:
    if duration is None:
        return "—"
    seconds = duration.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02}m"
    if minutes:
        return f"{minutes}m {seconds:02}s"
    return f"{seconds}s"


def elapsed(start: datetime | None, end: datetime | None, *, running: bool) -> str:
    """How long something took (or has taken so far, while `running`); "" when unknown."""
    if start is None or (end is None and not running):
        return ""
    duration = (end or timezone.now()) - start
    return format_duration(duration) if duration >= timedelta(0) else ""
