"""Deleting for good: the dry run counts what will go, the purge removes exactly that (rows and
files) and nothing else, it carries on after an interruption, and some targets are refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry.models import ModelVersion
from registry.services.model_versions import create_model_version
from registry.services.registered_models import create_registered_model
from tracking.deletion import purge
from tracking.deletion.plan import make_plan
from tracking.deletion.scope import resolve
from tracking.errors import InvalidParameterValue
from tracking.models import (
    Assessment,
    Deletion,
    EvaluationDataset,
    EvaluationDatasetExperiment,
    Experiment,
    Issue,
    LabelSchema,
    Metric,
    MetricSummary,
    ResourceGroup,
    ReviewQueue,
    Run,
    Scorer,
    Span,
    Trace,
    TraceTag,
    Workspace,
)
from tracking.models.work import FAILED, RUNNING, SUCCEEDED
from tracking.services import gateway
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.deletions import request_deletion
from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records
from tracking.services.experiments import create_experiment
from tracking.services.issues import create_issue
from tracking.services.label_schemas import SchemaInput, create_label_schema
from tracking.services.logged_models import create_logged_model
from tracking.services.metric_points import MetricPoint, delete_metric
from tracking.services.review_queues import add_items_to_review_queue, create_review_queue
from tracking.services.runs import Batch, create_run, log_batch
from tracking.services.scorers import register_scorer
from tracking.services.traces import SpanRecord, log_spans
from tracking.services.workspaces import create_workspace

T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return Path(settings.ARTIFACT_ROOT)


def save(workspace, uri: str, name: str, data: bytes = b"0123456789") -> None:
    save_artifact(workspace=workspace, path=f"{proxy_path(uri)}/{name}", stream=io.BytesIO(data))


def make_run(experiment, *, points: int = 30, files: int = 2) -> Run:
    run = create_run(experiment=experiment, run_name="r")
    metrics = [MetricPoint(key, i / 10, T0 + i, i) for key in ("loss", "acc") for i in range(points // 2)]
    log_batch(run=run, batch=Batch(metrics=metrics, params=[("lr", "0.1")], tags=[("team", "a")]))
    for index in range(files):
        save(experiment.workspace, run.artifact_uri, f"out/{index}.txt")
    return run


def make_trace(experiment, number: int = 1) -> Trace:
    """A trace of two spans and an assessment, with its span file as an older client uploads it."""
    trace_id = f"tr-{experiment.workspace_id:08x}{experiment.number:08x}{number:016x}"
    spans = [
        SpanRecord(trace_id, f"{i:016x}", None if i == 0 else f"{0:016x}", f"s{i}", "CHAIN", "OK",
                   T0 * 1_000_000 + i, T0 * 1_000_000 + 10 + i, {"name": f"s{i}", "attributes": {}})
        for i in range(2)
    ]  # fmt: skip
    log_spans(workspace=experiment.workspace, experiment=experiment, spans=spans)
    trace = Trace.objects.get(workspace=experiment.workspace, trace_id=trace_id)
    location = TraceTag.objects.get(trace=trace, key="mlflow.artifactLocation").value
    save(experiment.workspace, location, "traces.json", b'{"spans": []}')
    create_assessment(
        trace=trace,
        item=AssessmentInput(name="quality", assessment_type="feedback", value=1, source_type="HUMAN"),
    )
    return trace


def populate(workspace: Workspace, *, runs: int = 3) -> Experiment:
    experiment = create_experiment(workspace=workspace, name=f"exp-{Experiment.objects.count()}")
    make_trace(experiment)
    made = [make_run(experiment) for _ in range(runs)]
    model = create_logged_model(experiment=experiment, name="model", source_run_id=made[0].uuid)
    save(workspace, model.artifact_location, "MLmodel", b"flavors: {}\n")
    registered = create_registered_model(workspace=workspace, name=f"reg-{experiment.number}")
    create_model_version(
        workspace=workspace, model=registered, source=f"models:/{model.model_id}", model_id=model.model_id
    )
    set_up_gateway(workspace)
    add_genai_rows(experiment, made[0])
    return experiment


def set_up_gateway(workspace: Workspace) -> None:
    """An AI gateway endpoint with everything that can hang off it."""
    name = f"gw-{Experiment.objects.count()}"
    secret = gateway.create_secret(workspace=workspace, name=name, value={"api_key": "sk-0123456789"})
    definition = gateway.create_model_definition(
        workspace=workspace, name=name, secret_id=secret.secret_id, provider="openai", model_name="gpt-4o"
    )
    endpoint = gateway.create_endpoint(
        workspace=workspace,
        name=name,
        model_configs=[gateway.ModelConfig(definition.model_definition_id, "PRIMARY")],
        usage_tracking=False,
    )
    gateway.set_endpoint_tag(endpoint=endpoint, key="team", value="x")
    gateway.create_binding(endpoint=endpoint, resource_type="scorer", resource_id="s1")
    gateway.create_budget_policy(
        workspace=workspace,
        change=gateway.BudgetChange(
            budget_unit="USD",
            budget_amount=5.0,
            duration_unit="DAYS",
            duration_value=1,
            target_scope="ENDPOINT",
            target_value=endpoint.endpoint_id,
            budget_action="ALERT",
        ),
    )


def add_genai_rows(experiment: Experiment, run: Run, *, records: int = 3) -> EvaluationDataset:
    """A dataset of the workspace associated with the experiment, a scorer of two versions, an issue,
    a label schema and a review queue asking it of the experiment's traces."""
    dataset = create_evaluation_dataset(workspace=experiment.workspace, name="qa", experiments=[experiment])
    upsert_dataset_records(dataset=dataset, records=[{"inputs": {"q": i}} for i in range(records)])
    for _ in range(2):
        register_scorer(experiment=experiment, name="judge", serialized_scorer='{"name": "judge"}')
    create_issue(experiment=experiment, name="slow", description="answers are slow", source_run=run)
    schema = create_label_schema(
        experiment=experiment, name="ok?", schema_type="feedback", schema_input=SchemaInput("text", {})
    )
    queue = create_review_queue(
        experiment=experiment,
        name="review",
        queue_type="custom",
        users=["ann"],
        schema_ids=[schema.schema_id],
    )
    if trace_ids := list(experiment.traces.values_list("trace_id", flat=True)):
        add_items_to_review_queue(queue=queue, trace_ids=trace_ids)
    return dataset


def path_to_workspace(model, depth: int = 3) -> str | None:
    """The lookup from `model` to its Workspace through foreign keys ("run__experiment__workspace")."""
    if model is Workspace:
        return ""
    if depth == 0:
        return None
    for field in model._meta.concrete_fields:
        if field.is_relation and field.many_to_one:
            rest = path_to_workspace(field.related_model, depth - 1)
            if rest is not None:
                return f"{field.name}__{rest}" if rest else field.name
    return None


def rows_of(workspaces: list[int]) -> dict[str, int]:
    """Rows of every tracking and registry model that still belong to `workspaces`."""
    found = {}
    for model in [
        *apps.get_app_config("tracking").get_models(),
        *apps.get_app_config("registry").get_models(),
    ]:
        path = path_to_workspace(model)
        if path is None:
            continue
        lookup = f"{path}__in" if path else "pk__in"
        if count := model.objects.filter(**{lookup: workspaces}).count():
            found[model.__name__] = count
    return found


def files_under(root: Path, workspace: Workspace) -> list[Path]:
    return [path for path in (root / f"workspaces/{workspace.pk}").rglob("*") if path.is_file()]


def carry_out(row: Deletion) -> Deletion:
    purge.carry_out(row.pk, worker="test-worker")
    row.refresh_from_db()
    return row


@pytest.fixture
def doomed_group(db, default_workspace):
    group = ResourceGroup.objects.create(name="project-x")
    workspaces = [create_workspace(resource_group=group, name=name) for name in ("x-dev", "x-prod")]
    for workspace in workspaces:
        populate(workspace)
    return group


# --- Resource groups -------------------------------------------------------------------------


def test_the_dry_run_counts_what_a_resource_group_holds(doomed_group):
    plan = make_plan(resolve(Deletion.RESOURCE_GROUP, doomed_group.pk))
    assert plan["resource_groups"] == 1
    assert plan["workspaces"] == 2
    assert plan["experiments"] == 4  # each workspace's Default and one more
    assert plan["runs"] == 6
    assert plan["metric_points"] == 6 * 30
    assert plan["params"] == 6 and plan["tags"] >= 6
    assert plan["logged_models"] == 2 and plan["registered_models"] == 2 and plan["model_versions"] == 2
    assert plan["traces"] == 2
    assert plan["evaluation_datasets"] == 2 and plan["dataset_records"] == 6
    assert plan["scorers"] == 2 and plan["issues"] == 2
    assert plan["label_schemas"] == 2 and plan["review_queues"] == 2
    assert plan["files"] == 6 * 2 + 2 + 2
    assert plan["bytes"] == 6 * 2 * 10 + 2 * len(b"flavors: {}\n") + 2 * len(b'{"spans": []}')
    assert plan["blockers"] == []


def test_deleting_a_resource_group_leaves_no_row_and_no_file_of_it(
    doomed_group, artifact_root, default_workspace
):
    kept = populate(default_workspace, runs=1)
    workspaces = list(doomed_group.workspaces.all())
    ids = [workspace.pk for workspace in workspaces]
    assert rows_of(ids) and all(files_under(artifact_root, workspace) for workspace in workspaces)

    row = request_deletion(
        resolve(Deletion.RESOURCE_GROUP, doomed_group.pk), confirmation="project-x", enqueue=False
    )
    row = carry_out(row)

    assert row.status == SUCCEEDED, row.error
    assert rows_of(ids) == {}
    assert not Workspace.objects.filter(pk__in=ids).exists()
    assert not ResourceGroup.objects.filter(name="project-x").exists()
    assert all(not (artifact_root / f"workspaces/{pk}").exists() for pk in ids)
    # What it reports having removed is what the dry run announced.
    for key in ("workspaces", "experiments", "runs", "metric_points", "params", "logged_models",
                "registered_models", "model_versions", "files", "bytes", "resource_groups", "traces",
                "evaluation_datasets", "dataset_records", "scorers", "issues", "label_schemas",
                "review_queues"):  # fmt: skip
        assert row.counts.get(key) == row.plan[key], key
    assert row.done == row.total
    # Everything outside it is untouched.
    assert Run.objects.filter(experiment=kept).count() == 1
    assert files_under(artifact_root, default_workspace)


def test_the_default_workspace_and_its_group_are_refused(default_workspace):
    scope = resolve(Deletion.RESOURCE_GROUP, default_workspace.resource_group_id)
    assert make_plan(scope)["blockers"]
    with pytest.raises(InvalidParameterValue, match="default workspace"):
        request_deletion(scope, confirmation="default", enqueue=False)
    assert not Deletion.objects.exists()


def test_the_name_must_be_typed_exactly(doomed_group):
    scope = resolve(Deletion.RESOURCE_GROUP, doomed_group.pk)
    for typed in ("", "project", "PROJECT-X", "project-y"):
        with pytest.raises(InvalidParameterValue, match="Type the name 'project-x'"):
            request_deletion(scope, confirmation=typed, enqueue=False)
    assert not Deletion.objects.exists()


def test_asking_twice_gives_the_deletion_already_under_way(doomed_group):
    scope = resolve(Deletion.RESOURCE_GROUP, doomed_group.pk)
    first = request_deletion(scope, confirmation="project-x", enqueue=False)
    assert request_deletion(scope, confirmation="project-x", enqueue=False).pk == first.pk


def test_an_interrupted_deletion_carries_on_from_where_it_stopped(
    doomed_group, settings, monkeypatch, artifact_root
):
    settings.DELETION_CHUNK_RUNS = 1
    ids = list(doomed_group.workspaces.values_list("pk", flat=True))
    row = request_deletion(
        resolve(Deletion.RESOURCE_GROUP, doomed_group.pk), confirmation="project-x", enqueue=False
    )

    class Killed(BaseException):
        """Stands for the worker process dying: nothing after it runs, no except clause catches it."""

    reports = {"n": 0}
    real_report = Deletion.report

    def dying_report(self, **fields):
        reports["n"] += 1
        if reports["n"] == 6:
            raise Killed
        return real_report(self, **fields)

    monkeypatch.setattr(Deletion, "report", dying_report)
    with pytest.raises(Killed):
        purge.carry_out(row.pk, worker="first-worker")
    monkeypatch.setattr(Deletion, "report", real_report)
    row.refresh_from_db()
    assert row.status == RUNNING and 0 < Run.objects.filter(experiment__workspace__in=ids).count() < 6

    # The sweeper would hand it to another worker once the first has been silent long enough.
    Deletion.objects.filter(pk=row.pk).update(heartbeat_at=timezone.now() - Deletion.stale_after() * 2)
    row = carry_out(row)
    assert row.status == SUCCEEDED and row.attempts == 2
    assert rows_of(ids) == {} and not ResourceGroup.objects.filter(pk=doomed_group.pk).exists()
    assert row.counts["runs"] == 6 and row.counts["metric_points"] == 6 * 30


def test_a_deletion_whose_target_is_gone_just_ends(doomed_group):
    row = request_deletion(
        resolve(Deletion.RESOURCE_GROUP, doomed_group.pk), confirmation="project-x", enqueue=False
    )
    carry_out(row)
    Deletion.objects.filter(pk=row.pk).update(status="QUEUED")
    assert carry_out(row).status == SUCCEEDED


# --- Experiments and runs --------------------------------------------------------------------


def test_deleting_an_experiment_removes_its_runs_models_and_folder_and_frees_its_name(
    default_workspace, artifact_root
):
    doomed = create_experiment(workspace=default_workspace, name="doomed")
    runs = [make_run(doomed) for _ in range(2)]
    traces = [make_trace(doomed, number) for number in range(3)]
    create_logged_model(experiment=doomed, name="m")
    other = populate(default_workspace, runs=1)
    folder = artifact_root / f"workspaces/{default_workspace.pk}/{doomed.number}"
    assert folder.exists()

    row = carry_out(
        request_deletion(resolve(Deletion.EXPERIMENT, doomed.pk), confirmation="doomed", enqueue=False)
    )

    assert row.status == SUCCEEDED, row.error
    assert not Experiment.objects.filter(pk=doomed.pk).exists()
    assert not Run.objects.filter(pk__in=[run.pk for run in runs]).exists()
    assert not Metric.objects.filter(run_id__in=[run.pk for run in runs]).exists()
    assert not folder.exists()
    assert not Trace.objects.filter(pk__in=[trace.pk for trace in traces]).exists()
    assert not Span.objects.filter(trace_id__in=[trace.pk for trace in traces]).exists()
    assert not Assessment.objects.filter(trace_id__in=[trace.pk for trace in traces]).exists()
    assert row.counts["traces"] == 3
    assert Run.objects.filter(experiment=other).count() == 1
    assert Trace.objects.filter(experiment=other).count() == 1
    assert Span.objects.filter(trace__experiment=other).count() == 2
    # MLflow's delete is soft and keeps the name taken; ours frees it.
    assert create_experiment(workspace=default_workspace, name="doomed").name == "doomed"


def test_deleting_an_experiment_removes_its_scorers_and_issues_but_keeps_the_workspace_s_datasets(
    default_workspace,
):
    doomed = create_experiment(workspace=default_workspace, name="doomed")
    dataset = add_genai_rows(doomed, make_run(doomed, files=0))
    plan = make_plan(resolve(Deletion.EXPERIMENT, doomed.pk))
    assert plan["scorers"] == 1 and plan["issues"] == 1 and "evaluation_datasets" not in plan
    assert plan["label_schemas"] == 1 and plan["review_queues"] == 1

    row = carry_out(
        request_deletion(resolve(Deletion.EXPERIMENT, doomed.pk), confirmation="doomed", enqueue=False)
    )

    assert row.status == SUCCEEDED, row.error
    assert not Scorer.objects.filter(experiment_id=doomed.pk).exists()
    assert not Issue.objects.filter(experiment_id=doomed.pk).exists()
    assert not LabelSchema.objects.filter(experiment_id=doomed.pk).exists()
    assert not ReviewQueue.objects.filter(experiment_id=doomed.pk).exists()
    assert not EvaluationDatasetExperiment.objects.filter(dataset=dataset).exists()
    assert dataset.records.count() == 3


def test_dataset_records_go_in_bounded_batches(settings, default_workspace):
    settings.DELETION_CHUNK_POINTS = 2
    workspace = create_workspace(resource_group=default_workspace.resource_group, name="genai")
    experiment = create_experiment(workspace=workspace, name="e")
    add_genai_rows(experiment, make_run(experiment, files=0), records=5)
    row = carry_out(
        request_deletion(resolve(Deletion.WORKSPACE, workspace.pk), confirmation="genai", enqueue=False)
    )
    assert row.status == SUCCEEDED, row.error
    assert row.counts["dataset_records"] == 5 and row.counts["evaluation_datasets"] == 1
    assert rows_of([workspace.pk]) == {}


def test_an_experiment_whose_folder_holds_registered_versions_is_refused(default_workspace):
    experiment = populate(default_workspace, runs=1)
    scope = resolve(Deletion.EXPERIMENT, experiment.pk)
    blockers = make_plan(scope)["blockers"]
    assert blockers and f"reg-{experiment.number} v1" in blockers[0]
    with pytest.raises(InvalidParameterValue, match="registered model version"):
        request_deletion(scope, confirmation=experiment.name, enqueue=False)


def test_the_default_experiment_is_refused(default_workspace):
    default = Experiment.objects.get(workspace=default_workspace, number=0)
    assert "Default experiment" in make_plan(resolve(Deletion.EXPERIMENT, default.pk))["blockers"][0]


def test_a_refusal_found_by_the_worker_fails_the_deletion(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="late")
    row = request_deletion(resolve(Deletion.EXPERIMENT, experiment.pk), confirmation="late", enqueue=False)
    registered = create_registered_model(workspace=default_workspace, name="late-model")
    model = create_logged_model(experiment=experiment, name="m")
    save(default_workspace, model.artifact_location, "MLmodel", b"flavors: {}\n")
    create_model_version(
        workspace=default_workspace,
        model=registered,
        source=f"models:/{model.model_id}",
        model_id=model.model_id,
    )
    row = carry_out(row)
    assert row.status == FAILED and "registered model version" in row.error
    assert Experiment.objects.filter(pk=experiment.pk).exists()


def test_deleting_a_run_hides_it_at_once_and_then_removes_only_it(default_workspace, artifact_root):
    experiment = create_experiment(workspace=default_workspace, name="e")
    doomed, sibling = make_run(experiment), make_run(experiment)
    registered = create_registered_model(workspace=default_workspace, name="from-run")
    # MLflow 3's way: the run logged a model, whose files live in the experiment's models folder.
    logged = create_logged_model(experiment=experiment, name="model", source_run_id=doomed.uuid)
    save(default_workspace, logged.artifact_location, "MLmodel", b"flavors: {}\n")
    version = create_model_version(
        workspace=default_workspace, model=registered, source=f"runs:/{doomed.uuid}/model", run_id=doomed.uuid
    )

    row = request_deletion(resolve(Deletion.RUN, doomed.pk), confirmation=doomed.uuid, enqueue=False)
    assert Run.objects.get(pk=doomed.pk).lifecycle_stage == "deleted"
    row = carry_out(row)

    assert row.status == SUCCEEDED
    assert not Run.objects.filter(pk=doomed.pk).exists()
    assert not MetricSummary.objects.filter(run_id=doomed.pk).exists()
    assert not (
        artifact_root / f"workspaces/{default_workspace.pk}/{experiment.number}/{doomed.uuid}"
    ).exists()
    assert (artifact_root / f"workspaces/{default_workspace.pk}/{experiment.number}/{sibling.uuid}").exists()
    assert Metric.objects.filter(run=sibling).count() == 30
    # The version keeps the run's id as lineage; only the link to the row is gone.
    version = ModelVersion.objects.get(pk=version.pk)
    assert version.run_id == doomed.uuid and version.lineage_run_id is None


def test_a_run_whose_artifacts_hold_a_registered_version_s_files_is_kept(default_workspace, artifact_root):
    """Purging it would leave the version READY with nothing to load; the dry run says why."""
    experiment = create_experiment(workspace=default_workspace, name="e")
    run = make_run(experiment)
    save(default_workspace, run.artifact_uri, "model/MLmodel", b"flavors: {}\n")
    registered = create_registered_model(workspace=default_workspace, name="from-run")
    create_model_version(
        workspace=default_workspace, model=registered, source=f"{run.artifact_uri}/model", run_id=run.uuid
    )

    plan = make_plan(resolve(Deletion.RUN, run.pk))
    with pytest.raises(InvalidParameterValue, match="from-run v1"):
        request_deletion(resolve(Deletion.RUN, run.pk), confirmation=run.uuid, enqueue=False)

    assert plan["blockers"] == [
        "1 registered model version(s) (from-run v1) keep their files in this run's artifacts. "
        "Delete those versions of from-run first."
    ]
    assert Run.objects.get(pk=run.pk).lifecycle_stage == "active" and not Deletion.objects.exists()
    assert (artifact_root / f"workspaces/{default_workspace.pk}/{experiment.number}/{run.uuid}").exists()


def test_metric_points_go_in_bounded_batches(default_workspace, settings):
    settings.DELETION_CHUNK_POINTS = 7
    run = make_run(create_experiment(workspace=default_workspace, name="e"), points=40, files=0)
    row = carry_out(request_deletion(resolve(Deletion.RUN, run.pk), confirmation=run.uuid, enqueue=False))
    assert row.status == SUCCEEDED and row.counts["metric_points"] == 40


def test_the_dry_run_costs_the_same_queries_for_3_or_30_runs(default_workspace):
    small = create_experiment(workspace=default_workspace, name="small")
    large = create_experiment(workspace=default_workspace, name="large")
    for _ in range(3):
        make_run(small, points=2, files=0)
    for _ in range(30):
        make_run(large, points=2, files=0)
    counted = []
    for experiment in (small, large):
        scope = resolve(Deletion.EXPERIMENT, experiment.pk)
        with CaptureQueriesContext(connection) as queries:
            make_plan(scope)
        counted.append(len(queries))
    assert counted[0] == counted[1]


# --- A single metric -------------------------------------------------------------------------


def test_deleting_a_metric_removes_its_points_and_summary_only(default_workspace):
    run = make_run(create_experiment(workspace=default_workspace, name="e"), files=0)
    assert delete_metric(run.pk, "loss") == 15
    assert set(MetricSummary.objects.filter(run=run).values_list("key", flat=True)) == {"acc"}
    assert Metric.objects.filter(run=run, key="loss").count() == 0
    assert Metric.objects.filter(run=run, key="acc").count() == 15
    assert delete_metric(run.pk, "loss") == 0
