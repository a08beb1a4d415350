"""GraphQL's answers cost a fixed number of queries, and every field is a read."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphene.utils.str_converters import to_camel_case

from registry.services.model_versions import create_model_version
from registry.services.registered_models import create_registered_model
from tracking.access.permissions import Permission, permission_for
from tracking.api.graphql.schema import FIELD_RPCS, SCHEMA
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) {
    runs { info { runUuid } experiment { name } modelVersions { name version } data { params { key } } }
  }
}
"""


def test_every_field_is_a_read_of_the_permission_table():
    fields = set(SCHEMA.graphql_schema.query_type.fields) | set(SCHEMA.graphql_schema.mutation_type.fields)
    assert fields == {to_camel_case(name) for name in FIELD_RPCS}
    assert {permission_for(rpc) for rpc in FIELD_RPCS.values()} == {Permission.READ}
    assert permission_for("mlflow.ui.GraphQL") is Permission.READ


def queries_for(client, default_workspace, runs: int) -> int:
    experiment = create_experiment(workspace=default_workspace, name=f"graphql-{runs}")
    model = create_registered_model(workspace=default_workspace, name=f"counted-{runs}")
    for _ in range(runs):
        run = create_run(experiment=experiment)
        create_model_version(workspace=default_workspace, model=model, source="s3://b/m", run_id=run.uuid)
    body = {"query": SEARCH_RUNS, "variables": {"data": {"experimentIds": [experiment.experiment_id]}}}
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/graphql", data=json.dumps(body), content_type="application/json")
    answer = response.json()
    assert answer["errors"] is None
    found = answer["data"]["mlflowSearchRuns"]["runs"]
    assert len(found) == runs and all(len(run["modelVersions"]) == 1 for run in found)
    return len(captured)


@pytest.mark.django_db
def test_search_runs_with_experiments_and_versions_costs_the_same_for_2_or_12_runs(client, default_workspace):
    queries_for(client, default_workspace, 1)  # the workspace's look-up, cached after the first call
    assert queries_for(client, default_workspace, 2) == queries_for(client, default_workspace, 12)
