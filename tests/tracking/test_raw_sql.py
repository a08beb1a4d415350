"""Plain SQL for the hot read paths: one model instance read without the ORM's query building
is the instance the ORM would give, or nothing."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tracking.models import AlertRule, Run, WorkerHeartbeat
from tracking.raw_sql import fetch_instance
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_run_read_in_one_query_is_the_run_the_orm_reads(default_workspace):
    run = create_run(experiment=create_experiment(workspace=default_workspace, name="plain"))
    update_run(run=run, status="FINISHED", end_time=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        read = fetch_instance(Run, "r", "WHERE r.uuid = %s", [run.uuid])

    assert len(queries) == 1
    assert field_values(read) == field_values(Run.objects.get(pk=run.pk))
    assert read.end_time.tzinfo is not None and read._state.adding is False
    assert read.experiment.name == "plain"  # related rows load as usual


def test_nothing_matched_is_none(default_workspace):
    assert fetch_instance(Run, "r", "WHERE r.uuid = %s", ["0" * 32]) is None


def test_booleans_floats_and_missing_datetimes_come_back_as_the_orm_gives_them(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="alerts")
    now = timezone.now()
    rule = AlertRule.objects.create(
        experiment=experiment, name="loss", kind=AlertRule.KINDS[0][0], threshold=0.25,
        enabled=False, created_at=now, watch_from=now,
    )  # fmt: skip

    read = fetch_instance(AlertRule, "a", "WHERE a.id = %s", [rule.pk])

    assert field_values(read) == field_values(AlertRule.objects.get(pk=rule.pk))
    assert read.enabled is False and read.checked_at is None and read.created_at.tzinfo == UTC


def test_a_model_whose_columns_need_the_orm_s_conversions_is_refused():
    with pytest.raises(TypeError, match="targets"):
        fetch_instance(WorkerHeartbeat, "w", "WHERE w.id = %s", [1])
