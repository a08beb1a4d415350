"""Runs grouped by a param or tag, drawn as one line per group: the mean of its runs, with a band.

The histories come from `metric_charts.bucketed_histories`, which lays one grid over every run
drawn together, so a bucket's `slot` is the same stretch of x in each run. Runs rarely log at the
same steps (one every step, another every tenth), so each run's line is first carried across the
slots between its own points by linear interpolation, within its own first and last slot only:
a run that stopped early leaves the group's mean there instead of dragging it down.

At each slot a group keeps its runs' mean, standard deviation (of the runs present, ddof 0), min
and max, and how many runs were present, so the chart can draw either band (min to max, or one
standard deviation either side of the mean) without another request. Nothing here reads the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from tracking.queries.metric_charts import Series

NOT_SET = None  # the group of runs that have no value for the key


@dataclass(slots=True)
class GroupBand:
    """One group's line over the shared grid, slot by slot (only slots some run reaches)."""

    value: str | None  # the param or tag value the group's runs share; None: not set
    run_ids: list[str]
    x: list[float] = field(default_factory=list)  # in the series' units (a step, or ms)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    present: list[int] = field(default_factory=list)  # runs with a value at the slot


def group_bands(series: Sequence[Series], group_of: Mapping[str, str | None]) -> list[GroupBand]:
    """Each group's band, in the groups' natural order (numbers by value, then text, not set last).

    `series` are the runs' histories of one key on one grid; `group_of` maps a run id to its
    group's value. A run without finite values adds nothing but is still counted in `run_ids`.
    """
    members: dict[str | None, list[Series]] = {}
    for one in series:
        members.setdefault(group_of.get(one.run_id, NOT_SET), []).append(one)
    return [_band(value, members[value]) for value in sorted(members, key=group_order)]


def group_order(value: str | None) -> tuple:
    if value is None:
        return (2, 0.0, "")
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if math.isfinite(number) else (1, 0.0, value)


def _band(value: str | None, runs: list[Series]) -> GroupBand:
    slots: dict[int, list[tuple[float, float]]] = {}  # slot -> [(x, y) of each run present]
    for run in runs:
        for slot, x, y in _carried(run):
            slots.setdefault(slot, []).append((x, y))
    band = GroupBand(value, [run.run_id for run in runs])
    for slot in sorted(slots):
        points = slots[slot]
        ys = [y for _, y in points]
        count = len(ys)
        mean = math.fsum(ys) / count
        variance = max(0.0, math.fsum((y - mean) ** 2 for y in ys) / count)
        band.x.append(math.fsum(x for x, _ in points) / count)
        band.mean.append(mean)
        band.std.append(math.sqrt(variance))
        band.low.append(min(ys))
        band.high.append(max(ys))
        band.present.append(count)
    return band


def _carried(run: Series) -> list[tuple[int, float, float]]:
    """(slot, x, y) for every slot from the run's first finite bucket to its last: its own
    buckets' last values, and straight lines across the slots between them."""
    own = [
        (bucket.slot, float(bucket.x_last), bucket.last)
        for bucket in run.buckets
        if bucket.slot >= 0 and bucket.last is not None and math.isfinite(bucket.last)
    ]
    carried: list[tuple[int, float, float]] = []
    for (slot, x, y), (next_slot, next_x, next_y) in pairwise(own):
        carried.append((slot, x, y))
        gap = next_slot - slot
        for step in range(1, gap):
            share = step / gap
            carried.append((slot + step, x + (next_x - x) * share, y + (next_y - y) * share))
    if own:
        carried.append(own[-1])
    return carried
