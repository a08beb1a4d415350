"""Review queues and label schemas: MLflow's rules, items as traces of the queue's experiment,
bulk adds and removals, and their end with their trace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import ReviewQueue, ReviewQueueItem, Trace
from tracking.services.experiments import create_experiment
from tracking.services.label_schemas import (
    SchemaInput,
    create_label_schema,
    ensure_default_label_schema,
    update_label_schema,
)
from tracking.services.review_queues import (
    StatusChange,
    add_items_to_review_queue,
    create_review_queue,
    get_or_create_user_queue,
    remove_items_from_review_queue,
    set_review_queue_item_status,
    update_review_queue,
)
from tracking.services.traces import TraceInfoInput, delete_traces, start_trace
from tracking.services.workspaces import create_workspace

pytestmark = pytest.mark.django_db


def make_traces(experiment, count: int, start: int = 0) -> list[str]:
    ids = []
    for n in range(start, start + count):
        trace_id = f"tr-{experiment.pk:08x}{n:024x}"
        info = TraceInfoInput(trace_id, datetime(2026, 1, 1, tzinfo=UTC), 1, "OK")
        start_trace(workspace=experiment.workspace, experiment=experiment, info=info)
        ids.append(trace_id)
    return ids


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="reviewed")


@pytest.fixture
def queue(experiment):
    return create_review_queue(experiment=experiment, name="Launch", queue_type="custom", users=["ann"])


@pytest.mark.parametrize("count", [3, 300])
def test_adding_and_removing_items_costs_the_same_queries_for_3_or_300_traces(
    queue, experiment, count, django_assert_max_num_queries
):
    trace_ids = make_traces(experiment, count)
    # Five, and one INSERT more per 124 items on SQLite (its 999 variables a statement).
    with django_assert_max_num_queries(8):
        items = add_items_to_review_queue(queue=queue, trace_ids=trace_ids)
    assert [item.trace.trace_id for item in items] == trace_ids
    with django_assert_max_num_queries(1):
        remove_items_from_review_queue(queue=queue, trace_ids=trace_ids[1:])
    assert list(queue.items.values_list("trace__trace_id", flat=True)) == trace_ids[:1]


def test_it_refuses_traces_of_another_experiment_or_workspace_and_adds_none(
    queue, experiment, default_workspace
):
    other_experiment = create_experiment(workspace=default_workspace, name="other")
    elsewhere = create_workspace(resource_group=default_workspace.resource_group, name="elsewhere")
    foreign = make_traces(other_experiment, 1) + make_traces(
        create_experiment(workspace=elsewhere, name="x"), 1, 9
    )
    own = make_traces(experiment, 1)
    for ids in ([foreign[0]], [foreign[1]], [*own, "tr-unknown"]):
        with pytest.raises(ResourceDoesNotExist, match="do not exist in experiment"):
            add_items_to_review_queue(queue=queue, trace_ids=ids)
    assert not ReviewQueueItem.objects.exists()
    for ids in ([], [" "], ["x" * 51], ["tr-1"] * 1001):
        with pytest.raises(InvalidParameterValue):
            add_items_to_review_queue(queue=queue, trace_ids=ids)


def test_deleting_a_trace_takes_it_out_of_every_queue(queue, experiment):
    second = create_review_queue(experiment=experiment, name="Second", queue_type="custom")
    kept, doomed = make_traces(experiment, 2)
    for q in (queue, second):
        add_items_to_review_queue(queue=q, trace_ids=[kept, doomed])
    delete_traces(workspace=experiment.workspace, experiment=experiment, trace_ids=[doomed])
    assert not Trace.objects.filter(trace_id=doomed).exists()
    assert sorted(ReviewQueueItem.objects.values_list("trace__trace_id", flat=True)) == [kept, kept]


def test_an_item_is_completed_by_one_reviewer_and_reopened_by_anyone(queue, experiment):
    (trace_id,) = make_traces(experiment, 1)
    add_items_to_review_queue(queue=queue, trace_ids=[trace_id])
    done = set_review_queue_item_status(queue=queue, change=StatusChange(trace_id, "complete", "Ann"))
    assert (done.status, done.completed_by) == ("complete", "ann") and done.completed_at
    # The same status again changes nothing: the first completer stays on record.
    again = set_review_queue_item_status(queue=queue, change=StatusChange(trace_id, "complete", "bob"))
    assert again.completed_by == "ann"
    declined = set_review_queue_item_status(queue=queue, change=StatusChange(trace_id, "declined", "bob"))
    assert declined.completed_by == "bob"
    reopened = set_review_queue_item_status(queue=queue, change=StatusChange(trace_id, "pending"))
    assert (reopened.completed_by, reopened.completed_at) == (None, None)
    for change in (
        StatusChange(trace_id, "complete"),
        StatusChange(trace_id, "pending", "ann"),
        StatusChange(trace_id, "done", "ann"),
        StatusChange(trace_id, "complete", "a" * 251),
    ):
        with pytest.raises(InvalidParameterValue):
            set_review_queue_item_status(queue=queue, change=change)
    with pytest.raises(ResourceDoesNotExist):
        set_review_queue_item_status(queue=queue, change=StatusChange("tr-elsewhere", "complete", "ann"))


def test_a_queue_s_questions_are_fixed_once_it_has_items(queue, experiment):
    schema = create_label_schema(
        experiment=experiment, name="ok?", schema_type="feedback", schema_input=SchemaInput("text", {})
    )
    update_review_queue(queue=queue, schema_ids=[schema.schema_id])
    add_items_to_review_queue(queue=queue, trace_ids=make_traces(experiment, 1))
    with pytest.raises(InvalidParameterValue, match="locked"):
        update_review_queue(queue=queue, schema_ids=[], users=["bob"])
    # Refused whole: the reviewers did not change either.
    assert list(queue.users.values_list("user_id", flat=True)) == ["ann"]
    assert list(queue.schemas.values_list("schema__schema_id", flat=True)) == [schema.schema_id]
    with pytest.raises(InvalidParameterValue, match="not found"):
        create_review_queue(experiment=experiment, name="B", queue_type="custom", schema_ids=["ls-nope"])


def test_names_are_unique_whatever_their_case_and_user_queues_are_made_once(queue, experiment):
    with pytest.raises(ResourceAlreadyExists):
        create_review_queue(experiment=experiment, name="LAUNCH", queue_type="custom")
    other = create_review_queue(experiment=experiment, name="Other", queue_type="custom")
    with pytest.raises(ResourceAlreadyExists):
        update_review_queue(queue=other, name="launch")
    mine = get_or_create_user_queue(experiment=experiment, user=" Ann ")
    assert get_or_create_user_queue(experiment=experiment, user="ANN").pk == mine.pk
    assert (mine.name, mine.created_by, list(mine.users.values_list("user_id", flat=True))) == (
        "ann",
        "ann",
        ["ann"],
    )
    with pytest.raises(InvalidParameterValue, match="at most 10"):
        create_review_queue(
            experiment=experiment, name="Big", queue_type="custom", users=[f"u{i}" for i in range(11)]
        )
    assert ReviewQueue.objects.count() == 3


def test_a_label_schema_keeps_its_kind_of_input_and_the_default_is_made_once(experiment):
    schema = create_label_schema(
        experiment=experiment,
        name="tone",
        schema_type="feedback",
        schema_input=SchemaInput("categorical", {"options": ["a", "b"], "multi_select": True}),
    )
    changed = update_label_schema(
        schema=schema, schema_input=SchemaInput("categorical", {"options": ["a", "c"], "multi_select": True})
    )
    assert changed.input_config == {"options": ["a", "c"], "multi_select": True}
    for bad in (
        SchemaInput("text", {}),
        SchemaInput("categorical", {"options": ["a"], "multi_select": False}),
        SchemaInput("numeric", {"min_value": float("nan")}),
    ):
        with pytest.raises(InvalidParameterValue):
            update_label_schema(schema=schema, schema_input=bad)
    for _ in range(2):
        ensure_default_label_schema(experiment=experiment)
    assert list(experiment.label_schemas.filter(is_default=True).values_list("name", flat=True)) == [
        "Feedback"
    ]
