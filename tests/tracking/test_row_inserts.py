"""A row inserted by `insert_row` reads back as the same row `Model.save()` would have stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models.functions import Now

from registry.models import ModelVersion, RegisteredModel
from tracking.models import Experiment, Run
from tracking.row_inserts import insert_row, row_insert
from tracking.services.experiments import create_experiment

MOMENT = datetime(2026, 12, 7, 13, 0, 1, 250_000, tzinfo=UTC)


def stored(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


@pytest.fixture
def experiment(default_workspace) -> Experiment:
    return create_experiment(workspace=default_workspace, name="rows")


def both_ways(make) -> tuple[dict, dict]:
    """The row `insert_row` stored and the one `save()` stored, read back, without their ids."""
    ours, django = make(), make()
    insert_row(ours)
    django.save(force_insert=True)
    assert ours.pk is not None and not ours._state.adding
    read = [stored(type(row).objects.get(pk=row.pk)) for row in (ours, django)]
    for row in read:
        row.pop("id")
    return read[0], read[1]


def test_a_run_reads_back_as_save_would_have_stored_it(experiment):
    counter = iter(range(10))

    def make():
        return Run(
            uuid=f"{next(counter):032x}",
            experiment=experiment,
            name="ünï ✓ 'quoted' %s",
            status="RUNNING",
            start_time=MOMENT,
            artifact_uri="mlflow-artifacts:/1/x/artifacts",
        )

    ours, django = both_ways(make)

    assert ours.pop("uuid") != django.pop("uuid")
    assert ours == django
    assert ours["start_time"] == MOMENT and ours["end_time"] is None


def test_a_model_version_s_json_fields_read_back_as_save_would_have_stored_them(default_workspace):
    model = RegisteredModel.objects.create(
        workspace=default_workspace, name="m", created_at=MOMENT, updated_at=MOMENT
    )

    numbers = iter(range(1, 10))

    def make():
        return ModelVersion(
            registered_model=model,
            version=next(numbers),
            source="runs:/abc/model",
            flavors={"python_function": {"loader_module": "x", "nested": [1, 2.5, None, "ü"]}},
            signature_inputs=[{"name": "a", "type": "double"}],
            files=[["MLmodel", 120], ["model.pkl", 10_000_000_000]],
            created_at=MOMENT,
            updated_at=MOMENT,
        )

    ours, django = both_ways(make)

    assert ours.pop("version") != django.pop("version")
    assert ours == django
    assert ours["flavors"]["python_function"]["nested"] == [1, 2.5, None, "ü"]
    assert ours["signature_outputs"] is None


def test_an_expression_is_placed_as_the_database_computes_it(experiment):
    run = Run(uuid="e" * 32, experiment=experiment, name="now", status="RUNNING", start_time=Now())

    row = row_insert(run)
    insert_row(run)

    assert row.placeholders[row.index_of("start_time")] != "%s"
    assert Run.objects.get(pk=run.pk).start_time is not None
