"""Logged-model search: MLflow's filter, dataset restrictions and order_by, as one queryset."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from tracking.errors import InvalidParameterValue
from tracking.models import LoggedModelMetric, LoggedModelParam, LoggedModelTag
from tracking.times import ms_to_datetime

from .condition_sql import LOOKUPS
from .grammar import Comparison, parse_logged_model_filter

_ATTRIBUTES = {
    "name": "name",
    "model_id": "model_id",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_run_id",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
}
_ORDER_FIELDS = _ATTRIBUTES | {"creation_time": "created_at", "last_updated_time": "updated_at"}


def _dataset_q(datasets: list[dict]) -> Q:
    """Metric points on one of the datasets of order_by: its name, and its digest when given."""
    restriction = Q()
    for dataset in datasets:
        one = Q(dataset_name=dataset["dataset_name"])
        if dataset.get("dataset_digest"):
            one &= Q(dataset_digest=dataset["dataset_digest"])
        restriction |= one
    return restriction


def _datasets_filter_q(datasets: list[dict]) -> Q:
    """Metric points on one of the search's `datasets`, as MLflow's server matches them: by name
    and digest, a dataset given without a digest matching only points logged without one."""
    restriction = Q()
    for dataset in datasets:
        restriction |= Q(
            dataset_name=dataset["dataset_name"], dataset_digest=dataset.get("dataset_digest") or None
        )
    return restriction


def _compare(field: str, comparison: Comparison, value) -> Q:
    op = comparison.op
    if op == "!=":
        return ~Q(**{field: value})
    if op == "IN":
        return Q(**{f"{field}__in": value})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": value})
    lookup = LOOKUPS.get(op)
    if lookup is None:
        raise InvalidParameterValue(f"Invalid comparator '{op}' in logged model search.")
    return Q(**{f"{field}__{lookup}": value})


def _condition(comparison: Comparison, datasets: list[dict]):
    if comparison.entity == "attribute":
        field = _ATTRIBUTES.get(comparison.key)
        if field is None:
            raise InvalidParameterValue(f"Invalid attribute '{comparison.key}' in logged model search.")
        value = comparison.value
        if field in ("created_at", "updated_at"):
            value = ms_to_datetime(int(value), comparison.key)
        return _compare(field, comparison, value)
    if comparison.entity == "metric":
        points = LoggedModelMetric.objects.filter(model=OuterRef("pk"), key=comparison.key)
        if datasets:
            points = points.filter(_datasets_filter_q(datasets))
        return Exists(points.filter(_compare("value", comparison, float(comparison.value))))
    table = {"param": LoggedModelParam, "tag": LoggedModelTag}[comparison.entity]
    rows = table.objects.filter(model=OuterRef("pk"), key=comparison.key)
    return Exists(rows.filter(_compare("value", comparison, comparison.value)))


def filter_and_order_logged_models(
    queryset: QuerySet, filter_string: str, datasets: list[dict], order_by: list[dict]
) -> QuerySet:
    comparisons = parse_logged_model_filter(filter_string)
    for comparison in comparisons:
        queryset = queryset.filter(_condition(comparison, datasets))
    if datasets and not any(comparison.entity == "metric" for comparison in comparisons):
        # With no metric condition to restrict, the datasets select the models that have any
        # metric on one of them, as MLflow's server does.
        points = LoggedModelMetric.objects.filter(model=OuterRef("pk")).filter(_datasets_filter_q(datasets))
        queryset = queryset.filter(Exists(points))
    ordering = []
    for index, key in enumerate(order_by):
        name = key.get("field_name", "")
        ascending = key.get("ascending", True)
        if name.startswith("metrics."):
            points = LoggedModelMetric.objects.filter(model=OuterRef("pk"), key=name[len("metrics.") :])
            if key.get("dataset_name"):
                points = points.filter(_dataset_q([key]))
            latest = points.order_by("-step", "-timestamp").values("value")[:1]
            alias = f"order_{index}"
            queryset = queryset.annotate(**{alias: Subquery(latest)})
            column = F(alias)
        else:
            field = _ORDER_FIELDS.get(name.removeprefix("attributes."))
            if field is None:
                raise InvalidParameterValue(f"Invalid order_by field '{name}' in logged model search.")
            column = F(field)
        ordering.append(column.asc(nulls_last=True) if ascending else column.desc(nulls_last=True))
    ordering += [F("created_at").desc(), F("model_id").asc()]
    return queryset.order_by(*ordering)
