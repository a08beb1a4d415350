"""GraphQL at /graphql: the named queries MLflow's web UI sends, answered from the same handlers
as the REST API, inside the caller's workspace, with hostile queries refused before they run."""

from __future__ import annotations

import pytest
import requests
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

# MLflow 3.17.2's web UI's own queries (mlflow/server/js/build), word for word where it matters.
GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs {
        datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
        modelInputs { modelId }
      }
      outputs { modelOutputs { modelId step } }
    }
  }
}
"""

SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) {
    apiError { helpUrl code message }
    runs {
      info { runName status runUuid experimentId }
      experiment { experimentId name }
      data { metrics { key value step timestamp } params { key value } }
      modelVersions { version name creationTimestamp status source }
    }
  }
}
"""

GET_EXPERIMENT = """
query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetExperiment(input: $input) {
    apiError { code message }
    experiment { artifactLocation creationTime experimentId lastUpdateTime lifecycleStage name tags { key value } }
  }
}
"""

BULK_INTERVAL = """
query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!)
  @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetMetricHistoryBulkInterval(input: $data) {
    __typename
    metrics { timestamp step runId key value }
    apiError { code message }
  }
}
"""


@pytest.fixture
def graphql(tracking_uri):
    def post(
        query: str, variables: dict | None = None, *, base: str = tracking_uri, **body
    ) -> requests.Response:
        return requests.post(
            f"{base}/graphql", json={"query": query, "variables": variables, **body}, timeout=30
        )

    return post


@pytest.fixture
def logged_run(client, tmp_path):
    experiment_id = client.create_experiment("graphql", tags={"team": "vision"})
    run = client.create_run(experiment_id, run_name="first")
    client.log_metric(run.info.run_id, "loss", 0.25, timestamp=1000, step=3)
    client.log_metric(run.info.run_id, "loss", float("nan"), timestamp=1001, step=4)
    client.log_param(run.info.run_id, "lr", "0.1")
    (tmp_path / "notes.txt").write_text("hello")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"))
    return run


def log_model_folder(client, run_id: str, tmp_path) -> None:
    folder = tmp_path / f"model-{run_id}"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run_id, str(folder), "model")


def test_the_ui_s_get_run_query_answers_the_run_its_experiment_and_its_versions(
    client, graphql, logged_run, tmp_path
):
    run_id = logged_run.info.run_id
    log_model_folder(client, run_id, tmp_path)
    client.create_registered_model("gql-model")
    client.create_model_version("gql-model", f"runs:/{run_id}/model", run_id=run_id)

    response = graphql(GET_RUN, {"data": {"runId": run_id}}, operationName="GetRun")

    assert response.status_code == 200
    body = response.json()
    assert body["errors"] is None
    run = body["data"]["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == run_id and run["info"]["runName"] == "first"
    assert run["info"]["status"] == "RUNNING"
    assert run["experiment"]["name"] == "graphql"
    assert run["experiment"]["tags"] == [{"key": "team", "value": "vision"}]
    assert run["modelVersions"] == [
        {"status": "READY", "version": "1", "name": "gql-model", "source": f"runs:/{run_id}/model"}
    ]
    # The latest point of each metric; GraphQL's Float has no NaN: MLflow sends null, as we do.
    assert run["data"]["metrics"] == [{"key": "loss", "value": None, "step": "4", "timestamp": "1001"}]
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert run["inputs"] == {"datasetInputs": [], "modelInputs": []}
    assert body["data"]["mlflowGetRun"]["apiError"] is None


def test_search_runs_reads_each_run_s_experiment_and_versions(client, graphql, logged_run, tmp_path):
    experiment_id = logged_run.info.experiment_id
    second = client.create_run(experiment_id, run_name="second").info.run_id
    log_model_folder(client, second, tmp_path)
    client.create_registered_model("gql-search")
    client.create_model_version("gql-search", f"runs:/{second}/model", run_id=second)

    response = graphql(
        SEARCH_RUNS, {"data": {"experimentIds": [experiment_id], "runViewType": "ACTIVE_ONLY"}}
    )

    assert response.status_code == 200 and response.json()["errors"] is None
    runs = {run["info"]["runName"]: run for run in response.json()["data"]["mlflowSearchRuns"]["runs"]}
    assert set(runs) == {"first", "second"}
    assert runs["first"]["modelVersions"] == []
    assert [v["name"] for v in runs["second"]["modelVersions"]] == ["gql-search"]
    assert {run["experiment"]["experimentId"] for run in runs.values()} == {experiment_id}
    as_mutation = graphql(
        "mutation($data: MlflowSearchRunsInput!) { mlflowSearchRuns(input: $data) { runs { info { runName } } } }",
        {"data": {"experimentIds": [experiment_id], "filter": "attributes.run_name = 'second'"}},
    )
    assert as_mutation.json()["data"]["mlflowSearchRuns"]["runs"] == [{"info": {"runName": "second"}}]


def test_the_other_named_queries_answer_as_the_rest_api(client, graphql, logged_run):
    run_id, experiment_id = logged_run.info.run_id, logged_run.info.experiment_id

    experiment = graphql(GET_EXPERIMENT, {"input": {"experimentId": experiment_id}}).json()
    bulk = graphql(
        BULK_INTERVAL, {"data": {"runIds": [run_id], "metricKey": "loss", "maxResults": 10}}
    ).json()
    files = graphql(
        "query($input: MlflowListArtifactsInput!) { mlflowListArtifacts(input: $input) { rootUri files { path isDir fileSize } } }",
        {"input": {"runId": run_id}},
    ).json()
    versions = graphql(
        "query { mlflowSearchModelVersions(input: {filter: \"name = 'none'\"}) { modelVersions { name } nextPageToken } }"
    ).json()
    datasets = graphql(
        "mutation($input: MlflowSearchDatasetsInput!) { mlflowSearchDatasets(input: $input) { datasetSummaries { name } } }",
        {"input": {"experimentIds": [experiment_id]}},
    ).json()

    assert experiment["data"]["mlflowGetExperiment"]["experiment"]["name"] == "graphql"
    assert (
        bulk["data"]["mlflowGetMetricHistoryBulkInterval"]["__typename"]
        == "MlflowGetMetricHistoryBulkIntervalResponse"
    )
    assert [m["step"] for m in bulk["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]] == ["3", "4"]
    assert files["data"]["mlflowListArtifacts"]["files"] == [
        {"path": "notes.txt", "isDir": False, "fileSize": "5"}
    ]
    assert files["data"]["mlflowListArtifacts"]["rootUri"] == logged_run.info.artifact_uri
    assert versions["data"]["mlflowSearchModelVersions"] == {"modelVersions": [], "nextPageToken": None}
    assert datasets["data"]["mlflowSearchDatasets"] == {"datasetSummaries": []}
    assert all(answer["errors"] is None for answer in (experiment, bulk, files, versions, datasets))


def test_what_the_wire_leaves_out_is_answered_as_mlflow_s_graphql_defaults_it(
    client, graphql, logged_run, tmp_path
):
    """A directory has no size and a dataset may have no context: the REST answer leaves them out,
    MLflow's GraphQL answers the proto's default ("0" as int64's string, "")."""
    run_id, experiment_id = logged_run.info.run_id, logged_run.info.experiment_id
    client.log_artifact(run_id, str(tmp_path / "notes.txt"), "folder")
    client.log_inputs(
        run_id,
        [
            DatasetInput(Dataset(name="plain", digest="1", source_type="script", source="s"), tags=[]),
            DatasetInput(
                Dataset(name="train", digest="2", source_type="script", source="s"),
                tags=[InputTag(key=MLFLOW_DATASET_CONTEXT, value="training")],
            ),
        ],
    )

    files = graphql(
        "query($input: MlflowListArtifactsInput!) { mlflowListArtifacts(input: $input) { files { path isDir fileSize } } }",
        {"input": {"runId": run_id}},
    ).json()
    datasets = graphql(
        "mutation($input: MlflowSearchDatasetsInput!) { mlflowSearchDatasets(input: $input) "
        "{ datasetSummaries { experimentId name digest context } } }",
        {"input": {"experimentIds": [experiment_id]}},
    ).json()

    assert files["data"]["mlflowListArtifacts"]["files"] == [
        {"path": "folder", "isDir": True, "fileSize": "0"},
        {"path": "notes.txt", "isDir": False, "fileSize": "5"},
    ]
    assert sorted(
        datasets["data"]["mlflowSearchDatasets"]["datasetSummaries"], key=lambda d: d["digest"]
    ) == [
        {"experimentId": experiment_id, "name": "plain", "digest": "1", "context": ""},
        {"experimentId": experiment_id, "name": "train", "digest": "2", "context": "training"},
    ]


def test_mlflow_errors_come_back_in_the_errors_array_with_their_message(graphql):
    response = graphql(GET_RUN, {"data": {"runId": "f" * 32}})
    assert response.status_code == 200
    assert response.json() == {
        "data": {"mlflowGetRun": None},
        "errors": [f"Run with id={'f' * 32} not found"],
    }
    bad_input = graphql(BULK_INTERVAL, {"data": {"runIds": ["x"], "metricKey": "m", "maxResults": 0}})
    assert bad_input.status_code == 200
    assert bad_input.json()["errors"][0].startswith("max_results must be between 1 and 2500.")
    unknown_field = graphql("query { mlflowDropTables { ok } }")
    assert unknown_field.status_code == 200 and "mlflowDropTables" in unknown_field.json()["errors"][0]


def test_another_workspace_s_runs_are_not_found_through_its_graphql(
    client, graphql, tracking_uri, logged_run, make_workspace
):
    make_workspace("gql-other")
    other = f"{tracking_uri}/ws/gql-other"
    run_id = logged_run.info.run_id

    by_path = graphql(GET_RUN, {"data": {"runId": run_id}}, base=other)
    by_header = requests.post(
        f"{tracking_uri}/graphql",
        json={"query": GET_RUN, "variables": {"data": {"runId": run_id}}},
        headers={"X-MLFLOW-WORKSPACE": "gql-other"},
        timeout=30,
    )
    search = graphql(SEARCH_RUNS, {"data": {"experimentIds": [logged_run.info.experiment_id]}}, base=other)

    for response in (by_path, by_header):
        assert response.json() == {
            "data": {"mlflowGetRun": None},
            "errors": [f"Run with id={run_id} not found"],
        }
    assert search.json()["data"]["mlflowSearchRuns"]["runs"] == []
    unknown = graphql(GET_RUN, {"data": {"runId": run_id}}, base=f"{tracking_uri}/ws/no-such-ws")
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def nested(depth: int) -> str:
    selection = "runName"
    for _ in range(depth):
        selection = f"__typename info {{ {selection} }}"  # info is not a list: invalid past 3, refused first
    return f'query {{ mlflowGetRun(input: {{runId: "x"}}) {{ run {{ {selection} }} }} }}'


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        (
            'query { mlflowGetRun(input: {runId: "x"}) { ' + "a: __typename " * 11 + "} }",
            200,
            "GraphQL queries should have at most 10 aliases, got 11 aliases",
        ),
        (
            "query { " + " ".join(f"f{i}: __typename" for i in range(5)) + " " + "__typename " * 8 + "}",
            200,
            "GraphQL queries should have at most 10 root fields, got 13 root fields",
        ),
        (nested(12), 200, "Query exceeds maximum depth of 10"),
        (
            'query { mlflowGetRun(input: {runId: "x"}) { run { '
            + " ".join(f"f{i} {{ name }}" for i in range(1002))
            + " } } }",
            200,
            "Query exceeds maximum total selections of 1000",
        ),
        ("query { " + "__typename " * 30_000 + "}", 200, "characters"),
        ("query { " + "x " * 6_000 + "}", 400, "more than 5000 tokens"),
        (
            "query { ...A } fragment A on Query { ...B __typename } fragment B on Query { ...A __typename }",
            200,
            None,
        ),
        ("query { mlflowGetRun(input: {runId: ", 400, "Syntax Error"),
        ("", 400, "must carry a GraphQL query"),
    ],
    ids=[
        "aliases",
        "root-fields",
        "depth",
        "selections",
        "characters",
        "tokens",
        "fragment-cycle",
        "syntax",
        "empty",
    ],
)
def test_hostile_queries_are_refused_in_the_errors_array_never_with_a_5xx(graphql, query, status, message):
    """A well-formed query over a limit is answered 200 with null data, as MLflow's server answers
    its limits (its UI reads the reason in `errors`); what is no query at all is a 400."""
    response = graphql(query)
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert errors and all(isinstance(error, str) for error in errors)
    if message is not None:
        assert message in errors[0], errors
    if status == 200:
        assert response.json()["data"] is None


def test_only_a_json_post_is_answered(tracking_uri):
    assert (
        requests.get(f"{tracking_uri}/graphql", params={"query": "{ __typename }"}, timeout=30).status_code
        == 405
    )
    as_form = requests.post(f"{tracking_uri}/graphql", data={"query": "{ __typename }"}, timeout=30)
    assert as_form.status_code == 400 and as_form.json()["errors"]
    batch = requests.post(f"{tracking_uri}/graphql", json=[{"query": "{ __typename }"}] * 2, timeout=30)
    assert batch.status_code == 400 and "must carry a GraphQL query" in batch.json()["errors"][0]
    plain = requests.post(f"{tracking_uri}/graphql", json={"query": "{ __typename }"}, timeout=30)
    assert plain.json() == {"data": {"__typename": "Query"}, "errors": None}
