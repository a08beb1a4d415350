"""search_runs through the client: filters, ordering, paging, view types, DataFrames."""

from __future__ import annotations

import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


@pytest.fixture
def populated(client):
    """Twelve runs with lr, acc and team; run 11 has no acc; run 10 has a NaN acc."""
    experiment_id = client.create_experiment("search")
    run_ids = []
    for i in range(12):
        run = client.create_run(experiment_id, run_name=f"run-{i:02d}", start_time=1_700_000_000_000 + i)
        metrics = [] if i == 11 else [Metric("acc", float("nan") if i == 10 else i / 10, 0, 0)]
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param("lr", ["0.1", "0.01"][i % 2])],
            tags=[RunTag("team", f"team-{i % 3}")],
        )
        run_ids.append(run.info.run_id)
    return experiment_id, run_ids


def names(runs) -> list[str]:
    return [run.info.run_name for run in runs]


def test_default_order_is_newest_first(client, populated):
    experiment_id, _ = populated
    assert names(client.search_runs([experiment_id])) == [f"run-{i:02d}" for i in reversed(range(12))]


def test_it_filters_on_metrics_params_tags_and_attributes(client, populated):
    experiment_id, run_ids = populated
    search = lambda f: sorted(names(client.search_runs([experiment_id], f)))  # noqa: E731
    assert search("metrics.acc > 0.75") == ["run-08", "run-09"]
    assert search("metrics.acc >= 0.8 and params.lr = '0.01'") == ["run-09"]
    assert search("tags.team LIKE 'team-2'") == ["run-02", "run-05", "run-08", "run-11"]
    assert search("tags.team ILIKE 'TEAM-1%'") == ["run-01", "run-04", "run-07", "run-10"]
    assert search("attributes.run_name = 'run-03'") == ["run-03"]
    assert search(f"attributes.run_id IN ('{run_ids[0]}', '{run_ids[5]}')") == ["run-00", "run-05"]
    assert search("attributes.start_time >= 1700000000010") == ["run-10", "run-11"]
    assert search("params.lr != '0.1' and metrics.acc < 0.2") == ["run-01"]


def test_like_is_case_sensitive_and_ilike_is_not(client, populated):
    experiment_id, _ = populated
    assert client.search_runs([experiment_id], "tags.team LIKE 'TEAM-%'") == []
    assert len(client.search_runs([experiment_id], "tags.team ILIKE 'TEAM-%'")) == 12


def test_ordering_by_a_metric_puts_nan_then_missing_last_in_both_directions(client, populated):
    experiment_id, _ = populated
    descending = names(client.search_runs([experiment_id], order_by=["metrics.acc DESC"]))
    assert descending == [f"run-{i:02d}" for i in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11)]
    ascending = names(client.search_runs([experiment_id], order_by=["metrics.acc ASC"]))
    assert ascending == [f"run-{i:02d}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)]


def test_it_orders_by_several_keys(client, populated):
    experiment_id, _ = populated
    ordered = names(
        client.search_runs([experiment_id], order_by=["params.lr ASC", "attributes.run_name DESC"])
    )
    assert ordered[:3] == ["run-11", "run-09", "run-07"]
    assert ordered[6:9] == ["run-10", "run-08", "run-06"]


def test_it_pages_with_tokens_without_losing_or_repeating_runs(client, populated):
    experiment_id, _ = populated
    seen, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], max_results=5, order_by=["metrics.acc DESC"], page_token=token
        )
        seen += names(page)
        token = page.token
        if not token:
            break
    assert seen == names(client.search_runs([experiment_id], order_by=["metrics.acc DESC"]))


def test_view_types_choose_active_deleted_or_all(client, populated):
    experiment_id, run_ids = populated
    client.delete_run(run_ids[0])
    assert len(client.search_runs([experiment_id])) == 11
    assert names(client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)) == ["run-00"]
    assert len(client.search_runs([experiment_id], run_view_type=ViewType.ALL)) == 12


def test_mlflow_search_runs_gives_a_dataframe(fluent, populated):
    experiment_id, _ = populated
    frame = fluent.search_runs(
        [experiment_id], filter_string="params.lr = '0.1'", order_by=["metrics.acc DESC"]
    )
    assert list(frame["tags.mlflow.runName"]) == ["run-08", "run-06", "run-04", "run-02", "run-00", "run-10"]
    assert set(frame.columns) >= {"run_id", "metrics.acc", "params.lr", "tags.team", "start_time", "status"}


# --- Beyond MLflow's language: OR, NOT, parentheses, IN lists -----------------------------------


def test_mlflow_search_runs_takes_or_not_and_parentheses_unchanged(fluent, populated):
    experiment_id, _ = populated
    search = lambda f: sorted(fluent.search_runs([experiment_id], filter_string=f)["tags.mlflow.runName"])  # noqa: E731

    assert search("params.lr = '0.01' OR metrics.acc > 0.75") == [
        "run-01", "run-03", "run-05", "run-07", "run-08", "run-09", "run-11",
    ]  # fmt: skip
    assert search("(tags.team = 'team-0' OR tags.team = 'team-1') AND metrics.acc >= 0.6") == [
        "run-06", "run-07", "run-09",
    ]  # fmt: skip
    # run-10's acc is NaN and run-11 has none: neither is above 0.2, so both are NOT above it
    assert search("NOT metrics.acc > 0.2") == ["run-00", "run-01", "run-02", "run-10", "run-11"]
    assert search("tags.team IN ('team-2') AND NOT params.lr IN ('0.1')") == ["run-05", "run-11"]
    assert search("metrics.acc IN (0.1, 0.3)") == ["run-01", "run-03"]


def test_or_searches_page_and_order_like_any_other(client, populated):
    experiment_id, _ = populated
    seen, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            "tags.team = 'team-0' OR params.lr = '0.01'",
            order_by=["metrics.acc DESC"],
            max_results=3,
            page_token=token,
        )
        seen += names(page)
        token = page.token
        if not token:
            break
    assert seen == ["run-09", "run-07", "run-06", "run-05", "run-03", "run-01", "run-00", "run-11"]


def test_search_experiments_takes_or_and_not(client):
    for name, team in (("or-a", "ml"), ("or-b", "cv"), ("or-c", None)):
        experiment_id = client.create_experiment(name)
        if team:
            client.set_experiment_tag(experiment_id, "team", team)

    found = lambda f: sorted(e.name for e in client.search_experiments(filter_string=f))  # noqa: E731

    assert found("name LIKE 'or-%' AND (tags.team = 'ml' OR tags.team IS NULL)") == ["or-a", "or-c"]
    assert found("name LIKE 'or-%' AND NOT tags.team = 'ml'") == ["or-b", "or-c"]
    assert found("name IN ('or-a', 'or-b')") == ["or-a", "or-b"]


@pytest.mark.parametrize(
    ("bad_filter", "says"),
    [
        ("params.lr = '0.1' OR", "expected a condition after OR at position 18"),
        ("(params.lr = '0.1'", "the '(' at position 0 is never closed"),
        ("params.lr = '0.1')", "unexpected ')' at position 17"),
        ("NOT", "expected a condition after NOT at position 0"),
        ("(" * 17 + "params.lr = '0.1'" + ")" * 17, "nest more than 16"),
    ],
)
def test_a_malformed_or_not_or_parenthesis_is_an_invalid_parameter_naming_the_position(
    client, populated, bad_filter, says
):
    experiment_id, _ = populated
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], bad_filter)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    assert says in excinfo.value.message


@pytest.mark.parametrize(
    "bad_filter",
    [
        "params.x = '1' OR 1=1 --",
        "metrics.acc LIKE '1'",
        "foo.bar = 'x'",
        "params.lr = unquoted",
        "metrics.acc >",
    ],
)
def test_bad_filters_are_invalid_parameters(client, populated, bad_filter):
    experiment_id, _ = populated
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], bad_filter)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


def test_bad_order_by_and_page_token_are_invalid_parameters(client, populated):
    experiment_id, _ = populated
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], order_by=["metrics.acc SIDEWAYS"])
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], page_token="not-a-token!")
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


# --- Searches too large for a database: refused, never a crash ----------------------------------


def _search(tracking_uri: str, experiment_id: str, **body):
    import requests

    return requests.post(
        f"{tracking_uri}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [experiment_id], **body},
        timeout=60,
    )


def test_the_most_keys_a_search_may_join_still_answer(tracking_uri, client):
    """40 comparisons on 40 metrics and 10 orderings on 10 more: 50 joins, under SQLite's 64."""
    from tracking.search.grammar import MAX_COMPARISONS, MAX_ORDER_BY_KEYS

    experiment_id = client.create_experiment("wide")
    run = client.create_run(experiment_id)
    keys = [f"m{i}" for i in range(MAX_COMPARISONS + MAX_ORDER_BY_KEYS)]
    client.log_batch(run.info.run_id, metrics=[Metric(key, 1.0, 0, 0) for key in keys])
    filter_string = " AND ".join(f"metrics.{key} >= 1" for key in keys[:MAX_COMPARISONS])
    order_by = [f"metrics.{key} DESC" for key in keys[MAX_COMPARISONS:]]

    answer = _search(tracking_uri, experiment_id, filter=filter_string, order_by=order_by)

    assert answer.status_code == 200, answer.text
    assert [r["info"]["run_id"] for r in answer.json()["runs"]] == [run.info.run_id]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"order_by": [f"metrics.m{i} DESC" for i in range(40)]}, "at most 10"),
        ({"filter": " AND ".join(f"metrics.m{i} > 0" for i in range(100))}, "at most 40"),
        ({"filter": " AND ".join(f"params.p{i} = 'x'" for i in range(3000))}, "characters; at most"),
    ],
)
def test_a_search_too_large_for_the_database_is_refused_clearly(tracking_uri, client, body, says):
    experiment_id = client.create_experiment("too-wide")
    client.create_run(experiment_id)

    answer = _search(tracking_uri, experiment_id, **body)

    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert says in answer.json()["message"]
    # The web worker that answered is still serving.
    assert _search(tracking_uri, experiment_id).status_code == 200
