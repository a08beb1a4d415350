"""Small pieces the studio's pages share: the page number of a paged list, the links of its pager,
and durations as people read them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlencode

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


def choice(request: HttpRequest, name: str, allowed: Iterable[str], default: str = "") -> str:
    """`?name=`, when it is one of `allowed`; else `default`."""
    value = request.GET.get(name, default)
    return value if value in allowed else default


def url_with(request: HttpRequest, **changes: str | int | None) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    query = {key: value for key, value in request.GET.items() if key not in changes}
    query.update({key: str(value) for key, value in changes.items() if value is not None})
    return f"{request.path}?{urlencode(query)}" if query else request.path


def pager_links(request: HttpRequest, page: int, has_next: bool) -> dict:
    """The pager's `previous_url` and `next_url` (None at either end)."""
    return {
        "previous_url": url_with(request, page=page - 1) if page > 1 else None,
        "next_url": url_with(request, page=page + 1) if has_next else None,
    }


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
