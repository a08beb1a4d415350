"""Studio pages: experiments."""

from __future__ import annotations

urlpatterns: list = []
