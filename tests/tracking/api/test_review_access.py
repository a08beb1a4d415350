"""Who may do what with label schemas and review queues: Readers read, Contributors write, Owners
delete and hand queues over; another workspace's member finds nothing of them."""

from __future__ import annotations

import pytest

from tests.tracking.api.test_access import call, tokens  # noqa: F401  (the fixture)
from tracking.access.models import Membership, Role
from tracking.models import LabelSchema, ReviewQueue
from tracking.services.experiments import create_experiment
from tracking.services.label_schemas import SchemaInput, create_label_schema
from tracking.services.review_queues import create_review_queue

pytestmark = pytest.mark.django_db


def v3(workspace: str, rpc: str) -> str:
    return f"/ws/{workspace}/api/3.0/mlflow/{rpc}"


@pytest.fixture
def made(team):
    experiment = create_experiment(workspace=team.workspace, name="reviews")
    schema = create_label_schema(
        experiment=experiment, name="ok?", schema_type="feedback", schema_input=SchemaInput("text", {})
    )
    queue = create_review_queue(experiment=experiment, name="Q", queue_type="custom", users=["ann"])
    return experiment, schema, queue


def operations(experiment, schema, queue) -> dict[str, tuple[str, str, dict]]:
    exp = experiment.experiment_id
    return {
        "read schema": ("get", "label-schemas/get", {"schema_id": schema.schema_id}),
        "list queues": ("get", "review-queues/list", {"experiment_id": exp}),
        "create schema": (
            "post",
            "label-schemas/create",
            {"experiment_id": exp, "name": "new", "type": "FEEDBACK", "input": {"text": {}}},
        ),
        "rename queue": ("post", "review-queues/update", {"queue_id": queue.queue_id, "name": "Q2"}),
        "hand queue over": ("post", "review-queues/update", {"queue_id": queue.queue_id, "new_owner": "zed"}),
        "delete schema": ("delete", "label-schemas/delete", {"schema_id": schema.schema_id}),
        "delete queue": ("post", "review-queues/delete", {"queue_id": queue.queue_id}),
    }


ALLOWED = {
    "owner": {"read schema", "list queues", "create schema", "rename queue", "hand queue over", "delete schema",
              "delete queue"},
    "contributor": {"read schema", "list queues", "create schema", "rename queue"},
    "reader": {"read schema", "list queues"},
}  # fmt: skip


@pytest.mark.parametrize("persona", ["owner", "contributor", "reader"])
def test_each_role_may_do_what_the_permission_table_says(client, auth_on, team, tokens, made, persona):  # noqa: F811
    for name, (method, rpc, body) in operations(*made).items():
        response = call(client, method, v3("team-a", rpc), token=tokens[persona], body=body)
        if name in ALLOWED[persona]:
            assert response.status_code == 200, (name, response.content)
        else:
            assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED"), name


def test_another_workspace_s_member_finds_nothing(client, auth_on, team, personal_token, made):
    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    token = personal_token(team.outsider, team.other)
    for name, (method, rpc, body) in operations(*made).items():
        response = call(client, method, v3(team.other.name, rpc), token=token, body=body)
        if method == "delete" or rpc.endswith("/delete"):
            assert response.status_code == 200, name  # nothing of theirs to delete: a no-op
        else:
            assert response.status_code == 404, (name, response.content)
            assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert (
        LabelSchema.objects.filter(pk=made[1].pk).exists()
        and ReviewQueue.objects.filter(pk=made[2].pk).exists()
    )
    assert ReviewQueue.objects.get(pk=made[2].pk).name == "Q"
