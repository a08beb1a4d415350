"""Studio pages: models."""

from __future__ import annotations

urlpatterns: list = []
