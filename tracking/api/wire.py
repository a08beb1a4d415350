"""proto3 JSON details that only the wire knows."""

from __future__ import annotations

import math


def double(value: float | None) -> float | str:
    """proto3 JSON for a double; None is how we store NaN."""
    if value is None or value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
