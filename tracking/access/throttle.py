"""Log-in throttling: after LOGIN_MAX_FAILURES failed attempts for one user name from one
address, further attempts are refused until LOGIN_FAILURE_WINDOW_SECONDS after the first.

The counter lives in Django's cache (per process unless a shared cache is configured); it
counts attempts on the log-in page and Basic-auth password checks of the API alike.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

LOCKED_MESSAGE = "Too many failed log-in attempts; wait a few minutes and try again."


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()
    return f"studio:login-failures:{digest}"


def is_locked(username: str, address: str) -> bool:
    return (cache.get(_key(username, address)) or 0) >= settings.LOGIN_MAX_FAILURES


def record_failure(username: str, address: str) -> None:
    key = _key(username, address)
    # add() starts the window only on the first failure; incr() keeps its expiry.
    if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def clear(username: str, address: str) -> None:
    cache.delete(_key(username, address))
