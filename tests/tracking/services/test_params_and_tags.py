"""A run's params and tags: a param never changes, a tag takes its latest value, and a batch that
breaks either rule writes nothing at all."""

from __future__ import annotations

import pytest
from django.db import transaction

from tracking.errors import InvalidParameterValue
from tracking.models import ExperimentKey, Metric
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.params_and_tags import insert_params, upsert_tags
from tracking.services.runs import RUN_NAME_TAG, Batch, create_run, log_batch, log_param, set_tag


@pytest.fixture
def run(default_workspace):
    return create_run(
        experiment=create_experiment(workspace=default_workspace, name="pairs"), run_name="first"
    )


def params_of(run) -> dict[str, str]:
    return dict(run.params.values_list("key", "value"))


def tags_of(run) -> dict[str, str]:
    return dict(run.tags.values_list("key", "value"))


def test_a_batch_adds_new_params_beside_ones_sent_again_with_their_values(run):
    log_batch(run=run, batch=Batch(params=[("lr", "0.1"), ("layers", "4")]))

    log_batch(run=run, batch=Batch(params=[("layers", "4"), ("dropout", "0.2"), ("lr", "0.1")]))

    assert params_of(run) == {"lr": "0.1", "layers": "4", "dropout": "0.2"}


def test_a_batch_that_changes_a_param_is_refused_whole(run):
    log_batch(run=run, batch=Batch(params=[("lr", "0.1"), ("layers", "4")]))

    with pytest.raises(InvalidParameterValue) as refused:
        log_batch(
            run=run,
            batch=Batch(
                params=[("dropout", "0.2"), ("layers", "4"), ("lr", "0.5")],
                tags=[("team", "vision")],
                metrics=[MetricPoint("loss", 0.5, 1_700_000_000_000, 0)],
            ),
        )

    assert refused.value.message == (
        "Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' "
        f"for run ID='{run.uuid}'. Attempted logging new value '0.5'."
    )
    # Neither the new param added before the check nor anything else of the batch is kept.
    assert params_of(run) == {"lr": "0.1", "layers": "4"}
    assert "team" not in tags_of(run)
    assert not Metric.objects.filter(run=run).exists()
    assert not ExperimentKey.objects.filter(
        experiment=run.experiment, key__in=["dropout", "team", "loss"]
    ).exists()


def test_the_first_changed_param_in_the_batch_s_order_is_the_one_named(run):
    log_batch(run=run, batch=Batch(params=[("a", "1"), ("b", "1")]))

    with pytest.raises(InvalidParameterValue, match="key='b'"):
        log_batch(run=run, batch=Batch(params=[("b", "2"), ("a", "2")]))


def test_log_param_keeps_a_repeat_and_refuses_a_change(run):
    log_param(run=run, key="seed", value="7")
    log_param(run=run, key="seed", value="7")

    with pytest.raises(InvalidParameterValue, match="value='7'"):
        log_param(run=run, key="seed", value="8")

    assert params_of(run) == {"seed": "7"}


@pytest.mark.django_db(transaction=True)
def test_params_are_only_inserted_inside_a_transaction_that_can_undo_them(default_workspace):
    run = create_run(experiment=create_experiment(workspace=default_workspace, name="outside"))

    with pytest.raises(RuntimeError):
        insert_params(run, {"lr": "0.1"})

    assert params_of(run) == {}


def test_tags_take_their_latest_value_and_the_run_name_tag_renames_the_run(run):
    log_batch(run=run, batch=Batch(tags=[("team", "vision"), ("stage", "dev")]))

    log_batch(run=run, batch=Batch(tags=[("stage", "prod"), (RUN_NAME_TAG, "second")]))
    set_tag(run=run, key="team", value="speech")

    assert tags_of(run) == {"team": "speech", "stage": "prod", RUN_NAME_TAG: "second"}
    run.refresh_from_db()
    assert run.name == "second"


def test_awkward_keys_and_values_are_stored_as_sent(run):
    awkward = {
        "quote'd": 'say "hi"',
        "per%cent": "%s %% ?",
        "ünï ✓": "x" * 5000,
        "semi;colon": "); DROP TABLE x;--",
    }

    with transaction.atomic():
        insert_params(run, awkward)
        upsert_tags(run.pk, awkward)

    assert params_of(run) == awkward
    assert {key: tags_of(run)[key] for key in awkward} == awkward


def test_a_new_run_holds_its_tags_and_its_name(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="born")

    run = create_run(experiment=experiment, run_name="baby", tags=[("team", "vision")])

    run.refresh_from_db()
    assert (run.name, run.status, run.lifecycle_stage) == ("baby", "RUNNING", "active")
    assert tags_of(run) == {"team": "vision", RUN_NAME_TAG: "baby"}
    assert run.artifact_uri == f"mlflow-artifacts:/{experiment.number}/{run.uuid}/artifacts"
