"""Run search beyond MLflow: OR, NOT, parentheses and IN lists, each case checked against a
reference evaluation in Python over the same runs.

The reference is the language's meaning, written out: a comparison with a key the run does not
have is false (so NOT of it is true), a NaN metric compares false except with `!=`, AND binds
tighter than OR, NOT tighter than AND.
"""

# `not a == b` differs from `a != b` for a missing key, and the cases below mean the former.
# ruff: noqa: SIM201

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tracking.models import Run
from tracking.search.runs import filter_and_order_runs
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, update_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
NAN = math.nan


class _Missing:
    """A key the run does not have: every comparison with it is false, `!=` included."""

    def __eq__(self, other):
        return False

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__


MISSING = _Missing()


@dataclass
class Spec:
    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "RUNNING"
    minutes_long: int | None = None  # None: still running, no end_time
    minute: int = 0

    def m(self, key):
        return self.metrics.get(key, MISSING)

    def p(self, key):
        return self.params.get(key, MISSING)

    def t(self, key):
        return self.tags.get(key, MISSING)

    @property
    def end_time(self):
        if self.minutes_long is None:
            return MISSING
        return T0_MS + (self.minute + self.minutes_long) * 60_000


RUNS = [
    Spec("best-lr", {"acc": 0.95, "epoch": 1}, {"model": "lr", "opt": "adam"}, {"team": "ml"}, "FINISHED", 5),
    Spec("lr-2", {"acc": 0.5, "epoch": 3}, {"model": "lr", "opt": "sgd"}, {"team": "cv"}, "FAILED", 20, 1),
    Spec("cnn-1", {"acc": 0.7, "epoch": 2}, {"model": "cnn", "opt": "adam"}, {}, "FINISHED", 60, 2),
    Spec("cnn-nan", {"acc": NAN, "epoch": 3}, {"model": "cnn"}, {"team": "ml"}, "KILLED", 1, 3),
    Spec("best-cnn", {"acc": 0.91}, {"model": "CNN", "opt": "rmsprop"}, {"team": "mlops"}, minute=4),
    Spec("bare", minute=5),
    Spec("no-acc", {"loss": 0.1, "epoch": 1}, {"model": "tree"}, {"team": "cv"}, "FINISHED", 2, 6),
    Spec("low", {"acc": 0.2, "loss": 0.9}, {"opt": "sgd"}, {"team": "ml"}, minute=7),
]


def like(value, pattern: str) -> bool:
    if value is MISSING:
        return False
    return fnmatch.fnmatchcase(value, pattern.replace("%", "*").replace("_", "?"))


def ilike(value, pattern: str) -> bool:
    return value is not MISSING and like(value.lower(), pattern.lower())


def not_in(value, items) -> bool:
    return value is not MISSING and value not in items


END = T0_MS + 10 * 60_000  # after the short runs' ends, before the long ones'

CASES = [
    # OR, and its precedence under AND
    ("params.model = 'lr' OR metrics.acc > 0.9", lambda r: r.p("model") == "lr" or r.m("acc") > 0.9),
    (
        "params.model = 'lr' OR params.model = 'cnn' AND metrics.acc > 0.6",
        lambda r: r.p("model") == "lr" or (r.p("model") == "cnn" and r.m("acc") > 0.6),
    ),
    (
        "(params.model = 'lr' OR params.model = 'cnn') AND metrics.acc > 0.6",
        lambda r: (r.p("model") == "lr" or r.p("model") == "cnn") and r.m("acc") > 0.6,
    ),
    (
        "metrics.acc > 0.9 OR metrics.loss < 0.5 OR tags.team = 'cv'",
        lambda r: r.m("acc") > 0.9 or r.m("loss") < 0.5 or r.t("team") == "cv",
    ),
    # NOT: a missing key or a NaN makes the comparison false, so NOT of it true
    ("NOT metrics.acc > 0.9", lambda r: not r.m("acc") > 0.9),
    ("NOT params.model = 'lr'", lambda r: not r.p("model") == "lr"),
    ("NOT NOT metrics.acc > 0.6", lambda r: r.m("acc") > 0.6),
    (
        "NOT (params.model = 'lr' OR tags.team = 'ml')",
        lambda r: not (r.p("model") == "lr" or r.t("team") == "ml"),
    ),
    (
        "metrics.acc > 0.5 AND NOT (params.model = 'cnn' AND tags.team != 'cv')",
        lambda r: r.m("acc") > 0.5 and not (r.p("model") == "cnn" and r.t("team") != "cv"),
    ),
    # != keeps MLflow's meaning (the run must have the key; NaN differs), NOT = does not need it
    ("metrics.acc != 0.5", lambda r: r.m("acc") != 0.5),
    ("NOT metrics.acc = 0.5", lambda r: not r.m("acc") == 0.5),
    ("params.opt != 'adam'", lambda r: r.p("opt") != "adam"),
    ("NOT params.opt = 'adam'", lambda r: not r.p("opt") == "adam"),
    # IN lists on metrics, params, tags and attributes
    ("metrics.epoch IN (1, 3)", lambda r: r.m("epoch") in (1, 3)),
    ("metrics.epoch NOT IN (1, 3)", lambda r: not_in(r.m("epoch"), (1, 3))),
    ("NOT metrics.epoch IN (1, 3)", lambda r: r.m("epoch") not in (1, 3)),
    ("metrics.acc NOT IN (0.5)", lambda r: r.m("acc") is not MISSING and not r.m("acc") == 0.5),
    ("params.opt IN ('adam', 'sgd')", lambda r: r.p("opt") in ("adam", "sgd")),
    ("params.opt NOT IN ('adam')", lambda r: not_in(r.p("opt"), ("adam",))),
    (
        "tags.team IN ('ml', 'cv') AND NOT params.model IN ('lr')",
        lambda r: r.t("team") in ("ml", "cv") and r.p("model") not in ("lr",),
    ),
    (
        "status IN ('FAILED', 'KILLED') OR run_name LIKE 'best%'",
        lambda r: r.status in ("FAILED", "KILLED") or like(r.name, "best%"),
    ),
    ("status NOT IN ('RUNNING')", lambda r: r.status != "RUNNING"),
    # NULL tests combine like any comparison
    ("tags.team IS NULL OR tags.team = 'cv'", lambda r: r.t("team") is MISSING or r.t("team") == "cv"),
    ("NOT tags.team IS NOT NULL", lambda r: r.t("team") is MISSING),
    # LIKE and ILIKE under OR and NOT
    (
        "params.model ILIKE 'C%' OR NOT tags.team LIKE 'ml%'",
        lambda r: ilike(r.p("model"), "C%") or not like(r.t("team"), "ml%"),
    ),
    # attributes that may be NULL: a running run has no end_time
    (f"end_time > {END} OR NOT end_time > {END}", lambda r: True),
    (f"NOT end_time > {END}", lambda r: not r.end_time > END),
    (
        f"end_time < {END} OR start_time >= {T0_MS + 7 * 60_000}",
        lambda r: r.end_time < END or T0_MS + r.minute * 60_000 >= T0_MS + 7 * 60_000,
    ),
    # every filter MLflow accepts keeps its meaning
    ("metrics.acc > 0.6 AND params.model = 'cnn'", lambda r: r.m("acc") > 0.6 and r.p("model") == "cnn"),
    ("params.model != 'lr' AND tags.team != 'ml'", lambda r: r.p("model") != "lr" and r.t("team") != "ml"),
]


@pytest.fixture
def experiment(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="boolean-search")
    for spec in RUNS:
        run = create_run(
            experiment=experiment, run_name=spec.name, start_time=T0 + timedelta(minutes=spec.minute)
        )
        log_batch(
            run=run,
            batch=Batch(
                metrics=[MetricPoint(key, value, T0_MS, 0) for key, value in spec.metrics.items()],
                params=list(spec.params.items()),
                tags=list(spec.tags.items()),
            ),
        )
        if spec.minutes_long is not None:
            update_run(
                run=run, status=spec.status, end_time=run.start_time + timedelta(minutes=spec.minutes_long)
            )
    return experiment


def found(experiment, filter_string: str, order_by: list[str] | None = None) -> list[str]:
    runs = filter_and_order_runs(Run.objects.filter(experiment=experiment), filter_string, order_by or [])
    return [run.name for run in runs]


@pytest.mark.parametrize(("filter_string", "reference"), CASES, ids=[case[0] for case in CASES])
def test_a_search_finds_exactly_the_runs_the_reference_evaluation_finds(experiment, filter_string, reference):
    expected = {spec.name for spec in RUNS if reference(spec)}

    assert set(found(experiment, filter_string)) == expected


def test_the_cases_tell_the_runs_apart():
    """A case every run passes or every run fails would show nothing; each distinguishes some."""
    for filter_string, reference in CASES:
        matches = sum(1 for spec in RUNS if reference(spec))
        if "OR NOT end_time" not in filter_string:
            assert 0 < matches < len(RUNS), filter_string


def test_a_key_both_filtered_with_or_and_ordered_by_is_joined_once_and_orders_the_matches(experiment):
    names = found(experiment, "params.model = 'lr' OR params.model = 'cnn'", ["metrics.acc DESC"])

    # 0.95, 0.7, 0.5, then the NaN after every number
    assert names == ["best-lr", "cnn-1", "lr-2", "cnn-nan"]
    query = str(
        filter_and_order_runs(
            Run.objects.all(), "metrics.acc > 0 OR NOT metrics.acc < 1", ["metrics.acc DESC"]
        ).query
    )
    assert query.count("JOIN") == 1, query


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        ("metrics.acc > 0.4", ["metrics.acc DESC"]),
        ("metrics.acc >= 0.5 AND params.model != 'x'", ["metrics.acc ASC"]),
        ("params.model IN ('lr', 'cnn')", ["params.model DESC", "metrics.acc DESC"]),
        ("tags.team LIKE '%'", ["tags.team ASC"]),
    ],
)
def test_ordering_by_a_key_the_filter_requires_a_value_of_drops_the_placement_of_missing_values(
    experiment, filter_string, order_by
):
    """Every run found has the value, so the order is the same with or without placing NaN and
    missing keys last; without that placement PostgreSQL can walk the (key, value) index."""
    runs = filter_and_order_runs(Run.objects.filter(experiment=experiment), filter_string, order_by)
    ordered_key = order_by[0].split()[0]
    query = str(runs.query)
    assert "NULLS LAST" not in query.split("ORDER BY")[1].split(",")[0], query

    key_of = {"metrics": "metric", "params": "param", "tags": "tag"}[ordered_key.split(".")[0]]
    name = ordered_key.split(".")[1]
    values = {
        spec.name: getattr(spec, {"metric": "metrics", "param": "params", "tag": "tags"}[key_of]).get(name)
        for spec in RUNS
    }
    found_names = [run.name for run in runs]
    assert found_names, "the case finds runs"
    keyed = [values[found_name] for found_name in found_names]
    assert all(value is not None and value == value for value in keyed)
    assert keyed == sorted(keyed, reverse=order_by[0].endswith("DESC"))


def test_a_key_filtered_only_under_or_or_not_keeps_missing_values_last(experiment):
    for filter_string in ["metrics.acc > 0.6 OR params.model = 'cnn'", "NOT metrics.acc > 0.6"]:
        query = str(filter_and_order_runs(Run.objects.all(), filter_string, ["metrics.acc DESC"]).query)
        assert "NULLS LAST" in query, filter_string
