"""The fast lane of studio.wsgi: which views take it, and which middleware it keeps.

A view in the lane gets no session, user, CSRF check or message: it authenticates the request
itself (MLflow's API does, in `tracking.api.router.dispatch`). It still gets the middleware that
check the request's host and set the answer's headers, so an answer looks the same from either lane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

V = TypeVar("V", bound=Callable)

# The middleware the fast lane keeps, in the order settings.MIDDLEWARE gives them.
MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)


def fast_lane(view: V) -> V:
    """Route `view` through the fast lane (studio/urls.py marks MLflow's API so)."""
    view.fast_lane = True  # type: ignore[attr-defined]
    return view


def takes_fast_lane(view: Callable) -> bool:
    return getattr(view, "fast_lane", False)
