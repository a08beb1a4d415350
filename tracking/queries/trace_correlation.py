"""How two trace filters go together: NPMI (normalized pointwise mutual information) of "matches
filter 1" and "matches filter 2" over an experiment's traces (those of a base filter, if given),
as MLflow 3.17.2's CalculateTraceFilterCorrelation computes it. The four counts come from one
aggregate query; nothing is loaded trace by trace."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Count, Q

from tracking.models import Experiment, Trace, Workspace
from tracking.queries.experiments import parse_experiment_number
from tracking.search.traces import filter_traces, parse_trace_filter

# Jeffreys prior: half an observation added to each cell of the 2x2 table for the smoothed NPMI.
JEFFREYS_PRIOR = 0.5


@dataclass(frozen=True)
class Correlation:
    npmi: float  # NaN when undefined
    npmi_smoothed: float
    filter1_count: int
    filter2_count: int
    joint_count: int
    total_count: int


def _npmi(n11: float, n10: float, n01: float, n00: float, smoothing: float) -> float:
    s11, s10, s01, s00 = n11 + smoothing, n10 + smoothing, n01 + smoothing, n00 + smoothing
    total = s11 + s10 + s01 + s00
    first, second = s11 + s10, s11 + s01
    if first <= 0 or second <= 0 or s11 <= 0:
        return math.nan
    if n10 == 0 and n01 == 0 and n00 == 0:  # always together
        return 1.0
    # Grouped as MLflow groups the logarithms, so that the answers agree to the last bit.
    pmi = (math.log(s11) + math.log(total)) - (math.log(first) + math.log(second))
    return max(-1.0, min(1.0, pmi / -(math.log(s11) - math.log(total))))


def npmi_from_counts(joint: int, first: int, second: int, total: int) -> tuple[float, float]:
    """(NPMI, smoothed NPMI); NaN where undefined (no traces, or a filter matching none)."""
    if total <= 0 or first == 0 or second == 0:
        return math.nan, math.nan
    n11, n10, n01 = joint, first - joint, second - joint
    n00 = total - first - second + joint
    if min(n11, n10, n01, n00) < 0:
        return math.nan, math.nan
    plain = -1.0 if joint == 0 else _npmi(n11, n10, n01, n00, 0)
    return plain, _npmi(n11, n10, n01, n00, JEFFREYS_PRIOR)


def _experiments(workspace: Workspace, experiment_ids: list[str]) -> list[Experiment]:
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    return list(Experiment.objects.filter(workspace=workspace, number__in=numbers))


def trace_filter_correlation(
    workspace: Workspace,
    experiment_ids: list[str],
    filter1: str,
    filter2: str,
    base_filter: str | None = None,
) -> Correlation:
    traces = Trace.objects.filter(workspace=workspace, experiment__in=_experiments(workspace, experiment_ids))
    universe = filter_traces(traces, parse_trace_filter(base_filter))
    first = filter_traces(universe, parse_trace_filter(filter1)).values("pk")
    second = filter_traces(universe, parse_trace_filter(filter2)).values("pk")
    counts = universe.aggregate(
        total=Count("pk"),
        first=Count("pk", filter=Q(pk__in=first)),
        second=Count("pk", filter=Q(pk__in=second)),
        joint=Count("pk", filter=Q(pk__in=first) & Q(pk__in=second)),
    )
    npmi, smoothed = npmi_from_counts(counts["joint"], counts["first"], counts["second"], counts["total"])
    return Correlation(
        npmi=npmi,
        npmi_smoothed=smoothed,
        filter1_count=counts["first"],
        filter2_count=counts["second"],
        joint_count=counts["joint"],
        total_count=counts["total"],
    )
