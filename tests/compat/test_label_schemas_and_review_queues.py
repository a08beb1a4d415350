"""Label schemas and review queues (MLflow 3 GenAI) through the real client:
`mlflow.genai.label_schemas` and `mlflow.genai.review_queues`, as against `mlflow server` 3.17.2."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException


def _traces(mlflow, count: int) -> list[str]:
    @mlflow.trace(name="answer")
    def answer(x):
        return x * 2

    ids = []
    for x in range(count):
        answer(x)
        ids.append(mlflow.get_last_active_trace_id())
    return ids


def error_code(call) -> str:
    with pytest.raises(MlflowException) as excinfo:
        call()
    return excinfo.value.error_code


def test_label_schemas_are_created_listed_updated_and_deleted(fluent):
    from mlflow.genai import label_schemas as ls

    experiment_id = fluent.set_experiment("labelled").experiment_id
    correct = ls.create_label_schema(
        "Is the answer correct?",
        type="feedback",
        input=ls.InputPassFail(positive_label="Correct", negative_label="Wrong"),
        instruction="Check the facts.",
        enable_comment=True,
    )
    tone = ls.create_label_schema(
        "tone", type="expectation", input=ls.InputCategorical(options=["calm", "rude"], multi_select=True)
    )
    score = ls.create_label_schema("score", type="feedback", input=ls.InputNumeric(min_value=0, max_value=5))
    notes = ls.create_label_schema("notes", type="feedback", input=ls.InputText(max_length=200))
    assert correct.schema_id.startswith("ls-") and correct.experiment_id == experiment_id
    assert correct.input == ls.InputPassFail("Correct", "Wrong") and correct.enable_comment
    assert correct.instruction == "Check the facts." and correct.is_default is False
    assert ls.get_label_schema(schema_id=tone.schema_id).input == ls.InputCategorical(["calm", "rude"], True)
    assert ls.get_label_schema("score", experiment_id=experiment_id).input == ls.InputNumeric(0.0, 5.0)
    assert ls.get_label_schema(schema_id=notes.schema_id).input == ls.InputText(200)

    # The first listing gives the experiment its protected default question, as MLflow's server does.
    listed = ls.list_label_schemas(experiment_id)
    assert sorted(s.name for s in listed) == sorted(
        ["Feedback", "Is the answer correct?", "tone", "score", "notes"]
    )
    default = next(s for s in listed if s.is_default)
    assert (default.name, default.type, default.input) == ("Feedback", "feedback", ls.InputText())
    first = ls.list_label_schemas(experiment_id, max_results=2)
    rest = ls.list_label_schemas(experiment_id, max_results=10, page_token=first.token)
    assert len(first) == 2 and first.token and len(rest) == 3 and not rest.token
    assert {s.schema_id for s in first} | {s.schema_id for s in rest} == {s.schema_id for s in listed}

    updated = ls.update_label_schema(
        tone.schema_id,
        name="Tone",
        input=ls.InputCategorical(options=["calm", "rude", "curt"], multi_select=True),
    )
    assert updated.name == "Tone" and updated.input.options == ["calm", "rude", "curt"]
    assert updated.updated_at >= tone.updated_at and updated.type == "expectation"

    assert error_code(lambda: ls.update_label_schema(score.schema_id, input=ls.InputText())) == (
        "INVALID_PARAMETER_VALUE"
    )
    assert (
        error_code(
            lambda: ls.update_label_schema(
                tone.schema_id, input=ls.InputCategorical(["a"], multi_select=False)
            )
        )
        == "INVALID_PARAMETER_VALUE"
    )
    assert (
        error_code(lambda: ls.update_label_schema(default.schema_id, name="x")) == "INVALID_PARAMETER_VALUE"
    )
    assert (
        error_code(lambda: ls.delete_label_schema(schema_id=default.schema_id)) == "INVALID_PARAMETER_VALUE"
    )
    assert (
        error_code(lambda: ls.update_label_schema(score.schema_id, name="notes")) == "RESOURCE_ALREADY_EXISTS"
    )

    ls.delete_label_schema(schema_id=score.schema_id)
    ls.delete_label_schema(schema_id=score.schema_id)  # a no-op, as in MLflow
    assert error_code(lambda: ls.get_label_schema(schema_id=score.schema_id)) == "RESOURCE_DOES_NOT_EXIST"


def test_bad_label_schemas_are_refused_with_400_and_unknown_ones_404(fluent):
    from mlflow.genai import label_schemas as ls

    experiment_id = fluent.set_experiment("strict").experiment_id
    ls.create_label_schema("q", type="feedback", input=ls.InputText())
    refused = [
        lambda: ls.create_label_schema("q", type="feedback", input=ls.InputText()),
        lambda: ls.create_label_schema("feedback ", type="feedback", input=ls.InputText()),
        lambda: ls.create_label_schema("x" * 251, type="feedback", input=ls.InputText()),
        lambda: ls.create_label_schema("p", type="feedback", input=ls.InputPassFail("same", "same")),
        lambda: ls.create_label_schema("c", type="feedback", input=ls.InputCategorical(["a", "a"])),
        lambda: ls.create_label_schema(
            "c", type="feedback", input=ls.InputCategorical([str(i) for i in range(11)])
        ),
        lambda: ls.create_label_schema("n", type="feedback", input=ls.InputNumeric(min_value=5, max_value=5)),
        lambda: ls.create_label_schema("t", type="feedback", input=ls.InputText(max_length=0)),
        lambda: ls.create_label_schema("i", type="feedback", input=ls.InputText(), instruction="x" * 1001),
    ]
    codes = [error_code(call) for call in refused]
    assert codes == ["RESOURCE_ALREADY_EXISTS"] + ["INVALID_PARAMETER_VALUE"] * 8
    assert (
        error_code(lambda: ls.get_label_schema("nope", experiment_id=experiment_id))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert error_code(lambda: ls.list_label_schemas("424242")) == "RESOURCE_DOES_NOT_EXIST"

    url = f"{fluent.get_tracking_uri()}/api/3.0/mlflow/label-schemas"
    for body in (
        {"experiment_id": experiment_id, "name": "a", "type": "FEEDBACK", "input": {}},
        {
            "experiment_id": experiment_id,
            "name": "a",
            "type": "FEEDBACK",
            "input": {"text": {}, "numeric": {}},
        },
        {
            "experiment_id": experiment_id,
            "name": "a",
            "type": "LABEL_SCHEMA_TYPE_UNSPECIFIED",
            "input": {"text": {}},
        },
        {
            "experiment_id": experiment_id,
            "name": "a",
            "type": "FEEDBACK",
            "input": {"numeric": {"min_value": "NaN"}},
        },
        {
            "experiment_id": experiment_id,
            "name": "a",
            "type": "FEEDBACK",
            "input": {"categorical": {"options": [""]}},
        },
        {
            "experiment_id": experiment_id,
            "name": "a",
            "type": "FEEDBACK",
            "input": {"text": {"max_length": "x"}},
        },
    ):
        answer = requests.post(f"{url}/create", json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    answer = requests.get(
        f"{url}/list", params={"experiment_id": experiment_id, "max_results": 0}, timeout=10
    )
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_custom_queue_takes_traces_and_reviewers_complete_them(tracing):
    from mlflow.genai import label_schemas as ls
    from mlflow.genai import review_queues as rq

    experiment_id = tracing.set_experiment("reviewed").experiment_id
    trace_ids = _traces(tracing, 3)
    question = ls.create_label_schema("ok?", type="feedback", input=ls.InputPassFail("yes", "no"))
    queue = rq.create_review_queue(
        "Launch review", queue_type="custom", users=["Ann", " bob ", "ann"], schema_ids=[question.schema_id]
    )
    assert queue.queue_id.startswith("rq-") and queue.queue_type == "custom"
    assert queue.users == ["ann", "bob"] and queue.schema_ids == [question.schema_id]
    assert queue.created_by is None  # no sign-in: no owner, as on MLflow's server without auth
    assert rq.get_review_queue(name="launch REVIEW").queue_id == queue.queue_id
    assert error_code(lambda: rq.create_review_queue("LAUNCH review", queue_type="custom")) == (
        "RESOURCE_ALREADY_EXISTS"
    )

    items = rq.add_items_to_review_queue(queue.queue_id, item_ids=[trace_ids[1], trace_ids[0], trace_ids[1]])
    assert [(i.item_id, i.status) for i in items] == [(trace_ids[1], "pending"), (trace_ids[0], "pending")]
    done = rq.set_review_queue_item_status(
        queue.queue_id, item_id=trace_ids[0], status="complete", completed_by="Bob"
    )
    assert (done.status, done.completed_by) == ("complete", "bob") and done.completed_time_ms
    # Adding again keeps the status; the new trace comes in pending.
    again = rq.add_items_to_review_queue(queue.queue_id, item_ids=[trace_ids[0], trace_ids[2]])
    assert [(i.item_id, i.status) for i in again] == [(trace_ids[0], "complete"), (trace_ids[2], "pending")]
    pending = rq.list_review_queue_items(queue.queue_id, status="pending")
    assert sorted(i.item_id for i in pending) == sorted([trace_ids[1], trace_ids[2]])
    first = rq.list_review_queue_items(queue.queue_id, max_results=2)
    rest = rq.list_review_queue_items(queue.queue_id, max_results=2, page_token=first.token)
    assert len(first) == 2 and len(rest) == 1 and not rest.token

    reopened = rq.set_review_queue_item_status(queue.queue_id, item_id=trace_ids[0], status="pending")
    assert (reopened.status, reopened.completed_by, reopened.completed_time_ms) == ("pending", None, None)
    assert [q.queue_id for q in rq.list_review_queues(user="BOB")] == [queue.queue_id]
    assert list(rq.list_review_queues(user="carol")) == []

    # The questions are fixed once items are in; reviewers are not.
    assert (
        error_code(lambda: rq.update_review_queue(queue.queue_id, schema_ids=[])) == "INVALID_PARAMETER_VALUE"
    )
    renamed = rq.update_review_queue(
        queue.queue_id, name="Launch review v2", users=["carol"], new_owner="Dana"
    )
    assert (renamed.name, renamed.users, renamed.created_by) == ("Launch review v2", ["carol"], "Dana")

    rq.remove_items_from_review_queue(queue.queue_id, item_ids=[trace_ids[0], trace_ids[1], "tr-not-there"])
    assert [i.item_id for i in rq.list_review_queue_items(queue.queue_id)] == [trace_ids[2]]
    # Deleting a trace takes it out of every queue.
    tracing.MlflowClient().delete_traces(experiment_id, trace_ids=[trace_ids[2]])
    assert list(rq.list_review_queue_items(queue.queue_id)) == []

    rq.delete_review_queue(queue.queue_id)
    rq.delete_review_queue(queue.queue_id)  # a no-op, as in MLflow
    assert error_code(lambda: rq.get_review_queue(queue.queue_id)) == "RESOURCE_DOES_NOT_EXIST"


def test_a_user_queue_is_one_reviewers_and_is_made_once(tracing):
    from mlflow.genai import review_queues as rq

    tracing.set_experiment("personal")
    (trace_id,) = _traces(tracing, 1)
    mine = rq.get_or_create_user_queue("Ann@Example.com")
    assert (mine.name, mine.queue_type, mine.users, mine.created_by) == (
        "ann@example.com",
        "user",
        ["ann@example.com"],
        "ann@example.com",
    )
    assert rq.get_or_create_user_queue("ann@example.com ").queue_id == mine.queue_id
    rq.add_items_to_review_queue(mine.queue_id, item_ids=[trace_id])
    assert [q.queue_id for q in rq.list_review_queues()] == [mine.queue_id]
    assert [
        q.queue_id
        for q in tracing.MlflowClient()._tracing_client.store.list_review_queues(
            mine.experiment_id, item_id=trace_id
        )
    ] == [mine.queue_id]
    assert error_code(lambda: rq.update_review_queue(mine.queue_id, name="x")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: rq.create_review_queue("bob", queue_type="user", users=["carl"])) == (
        "INVALID_PARAMETER_VALUE"
    )
    rq.create_review_queue("Team", queue_type="custom")
    assert error_code(lambda: rq.get_or_create_user_queue("team")) == "RESOURCE_ALREADY_EXISTS"
    assert (
        error_code(lambda: rq.create_review_queue("Default", queue_type="custom"))
        == "INVALID_PARAMETER_VALUE"
    )


def test_a_queue_refuses_traces_of_other_experiments_and_unknown_ids(tracing, make_workspace):
    from mlflow import MlflowClient
    from mlflow.genai import review_queues as rq

    tracing.set_experiment("elsewhere-traces")
    (foreign,) = _traces(tracing, 1)
    tracing.set_experiment("queued")
    (own,) = _traces(tracing, 1)
    queue = rq.create_review_queue("q", queue_type="custom")
    for ids in ([foreign], [own, "tr-unknown"], [" "], ["x" * 51]):
        code = error_code(lambda i=ids: rq.add_items_to_review_queue(queue.queue_id, item_ids=i))
        assert code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"), ids
    assert list(rq.list_review_queue_items(queue.queue_id)) == []
    assert (
        error_code(
            lambda: rq.set_review_queue_item_status(
                queue.queue_id, item_id=own, status="complete", completed_by="a"
            )
        )
        == "RESOURCE_DOES_NOT_EXIST"
    )
    rq.add_items_to_review_queue(queue.queue_id, item_ids=[own])
    assert error_code(
        lambda: rq.set_review_queue_item_status(queue.queue_id, item_id=own, status="complete")
    ) == ("INVALID_PARAMETER_VALUE")

    # Another workspace finds neither the queue nor the experiment.
    make_workspace("reviewers-elsewhere")
    other_uri = f"{tracing.get_tracking_uri()}/ws/reviewers-elsewhere"
    answer = requests.get(
        f"{other_uri}/api/3.0/mlflow/review-queues/get", params={"queue_id": queue.queue_id}, timeout=10
    )
    assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    theirs = MlflowClient(other_uri).create_experiment("theirs")
    answer = requests.post(
        f"{other_uri}/api/3.0/mlflow/review-queues/items/add",
        json={"queue_id": queue.queue_id, "item_ids": [own]},
        timeout=10,
    )
    assert answer.status_code == 404
    answer = requests.get(
        f"{other_uri}/api/3.0/mlflow/review-queues/list", params={"experiment_id": theirs}, timeout=10
    ).json()
    assert "review_queues" not in answer


def test_a_reader_reads_queues_but_cannot_change_them_and_an_outsider_finds_none(
    deployed_with_sign_in, team, personal_token
):
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    from tracking.access.models import Membership, Role

    def store_as(persona: str, workspace) -> RestStore:
        token = personal_token(team.user(persona), workspace)
        uri = f"{deployed_with_sign_in.url}/ws/{workspace.name}"
        return RestStore(lambda: MlflowHostCreds(uri, token=token))

    contributor = store_as("contributor", team.workspace)
    queue = contributor.create_review_queue("0", name="Shared", queue_type="custom", users=["x"])
    assert queue.created_by == team.user("contributor").username
    with pytest.raises(MlflowException) as denied:
        contributor.update_review_queue(queue.queue_id, new_owner="someone")
    assert denied.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as denied:
        contributor.delete_review_queue(queue.queue_id)
    assert denied.value.error_code == "PERMISSION_DENIED"

    reader = store_as("reader", team.workspace)
    assert reader.get_review_queue(queue.queue_id).name == "Shared"
    assert [q.queue_id for q in reader.list_review_queues("0")] == [queue.queue_id]
    for write in (
        lambda: reader.create_review_queue("0", name="mine", queue_type="custom"),
        lambda: reader.get_or_create_user_queue("0", user="me"),
        lambda: reader.update_review_queue(queue.queue_id, name="renamed"),
        lambda: reader.add_items_to_review_queue(queue.queue_id, item_ids=["tr-1"]),
    ):
        assert error_code(write) == "PERMISSION_DENIED"

    owner = store_as("owner", team.workspace)
    assert owner.update_review_queue(queue.queue_id, new_owner="Zed").created_by == "Zed"

    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    outsider = store_as("outsider", team.other)
    assert error_code(lambda: outsider.get_review_queue(queue.queue_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        error_code(lambda: outsider.update_review_queue(queue.queue_id, name="x"))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    outsider.delete_review_queue(queue.queue_id)  # finds nothing to delete
    assert owner.get_review_queue(queue.queue_id).queue_id == queue.queue_id
