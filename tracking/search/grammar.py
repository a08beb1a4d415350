"""MLflow's search language, for runs, experiments, the registry and logged models.

A filter is a list of comparisons joined by ``AND``::

    metrics.acc > 0.9 AND params.model = 'cnn' AND tags.`mlflow.runName` LIKE 'bert%'
    attributes.run_id IN ('a1', 'b2') AND tags.reviewed IS NULL

Run and experiment filters also take ``OR``, ``NOT``, parentheses and ``IN`` lists on metrics,
params and tags, which MLflow lacks; every filter MLflow accepts keeps its meaning::

    params.model = 'lr' OR (metrics.acc > 0.9 AND NOT tags.draft = 'yes')

An order_by item is an identifier with an optional direction: ``metrics.`val loss` DESC``.

What each endpoint accepts is in `grammars`; the parsers are `filters` and `order_by`; what they
return is in `conditions`.
"""

from __future__ import annotations

from tracking.search import grammars
from tracking.search.conditions import AllOf, AnyOf, Comparison, Condition, Not, OrderKey
from tracking.search.filters import MAX_COMPARISONS, MAX_NESTING, parse_filter
from tracking.search.order_by import MAX_ORDER_BY_KEYS, parse_order_by

__all__ = [
    "MAX_COMPARISONS",
    "MAX_NESTING",
    "MAX_ORDER_BY_KEYS",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Condition",
    "Not",
    "OrderKey",
    "parse_evaluation_dataset_filter",
    "parse_evaluation_dataset_order_by",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_issue_filter",
    "parse_logged_model_filter",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
]


def parse_run_filter(filter_string: str | None) -> list[Condition]:
    return parse_filter(filter_string, grammars.RUNS)


def parse_run_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return parse_order_by(order_by, grammars.RUNS)


def parse_experiment_filter(filter_string: str | None) -> list[Condition]:
    return parse_filter(filter_string, grammars.EXPERIMENTS)


def parse_experiment_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return parse_order_by(order_by, grammars.EXPERIMENTS)


def parse_registered_model_filter(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, grammars.REGISTERED_MODELS)  # type: ignore[return-value]


def parse_registered_model_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return parse_order_by(order_by, grammars.REGISTERED_MODELS)


def parse_model_version_filter(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, grammars.MODEL_VERSIONS)  # type: ignore[return-value]


def parse_model_version_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return parse_order_by(order_by, grammars.MODEL_VERSIONS)


def parse_logged_model_filter(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, grammars.LOGGED_MODELS)  # type: ignore[return-value]


def parse_evaluation_dataset_filter(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, grammars.EVALUATION_DATASETS)  # type: ignore[return-value]


def parse_evaluation_dataset_order_by(order_by: list[str] | None) -> list[OrderKey]:
    return parse_order_by(order_by, grammars.EVALUATION_DATASETS)


def parse_issue_filter(filter_string: str | None) -> list[Comparison]:
    return parse_filter(filter_string, grammars.ISSUES)  # type: ignore[return-value]
