"""Reading runs: by id (`get_run_record`, one statement whatever data the run holds), and
searching them (`search_runs`), whose compiled statement a worker keeps for the next same search."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.queries import runs as run_queries
from tracking.queries.runs import get_run_record, load_runs, search_runs
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, log_outputs


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="runs-read")


def test_a_run_with_no_data_reads_with_empty_lists(default_workspace, experiment):
    run = create_run(experiment=experiment, run_name="bare", tags=[])

    record = get_run_record(default_workspace, run.uuid)

    assert (record.run_id, record.name, record.experiment_id) == (run.uuid, "bare", str(experiment.number))
    assert record.start_time == run.start_time and record.end_time is None
    assert record.params == record.metrics == [] and record.dataset_inputs == []
    assert [key for key, _ in record.tags] == ["mlflow.runName"]


def test_a_run_reads_as_a_page_of_runs_reads_it(default_workspace, experiment):
    run = create_run(experiment=experiment, run_name="full")
    log_batch(
        run=run,
        batch=Batch(
            metrics=[MetricPoint(f"m{i}", i / 2, 10, i) for i in range(5)]
            + [MetricPoint("nan", float("nan"), 1, 0)],
            params=[(f"p{i}", f"v{i}") for i in range(7)],
            tags=[("team", "a"), ("quote", "it's")],
        ),
    )
    log_outputs(run=run, models=[("m-out", 3)])

    record = get_run_record(default_workspace, run.uuid)
    [paged] = load_runs([run.pk])

    assert sorted(record.params) == sorted(paged.params) == [(f"p{i}", f"v{i}") for i in range(7)]
    assert sorted(record.tags) == sorted(paged.tags)
    assert sorted(record.metrics, key=str) == sorted(paged.metrics, key=str)
    assert len(record.metrics) == 6 and record.model_outputs == [("m-out", 3)]
    assert record.start_time == paged.start_time


def test_a_run_of_another_workspace_or_no_run_is_not_found(default_workspace, make_workspace, experiment):
    run = create_run(experiment=experiment)
    other = make_workspace("elsewhere")

    for workspace, run_id in ((other, run.uuid), (default_workspace, "0" * 32)):
        with pytest.raises(ResourceDoesNotExist, match=f"Run with id={run_id} not found"):
            get_run_record(workspace, run_id)


def _logged_run(experiment, name: str, acc: float, lr: str = "0.01"):
    run = create_run(experiment=experiment, run_name=name, tags=[])
    log_batch(run=run, batch=Batch(metrics=[MetricPoint("acc", acc, 1, 0)], params=[("lr", lr)], tags=[]))
    return run


SEARCH = {"filter_string": "metrics.acc > 0.5 and params.lr = '0.01'", "order_by": ["metrics.acc DESC"]}


def _names(workspace, experiment, **search) -> list[str]:
    page = search_runs(workspace, experiment_ids=[str(experiment.number)], **{**SEARCH, **search})
    return [record.name for record in page.runs]


def test_a_search_made_again_reuses_its_statement_and_still_reads_the_runs_afresh(
    default_workspace, experiment
):
    run_queries._kept_run_search.cache_clear()
    _logged_run(experiment, "good", 0.7)
    _logged_run(experiment, "poor", 0.2)
    assert _names(default_workspace, experiment) == ["good"]

    _logged_run(experiment, "best", 0.9)
    _logged_run(experiment, "other-lr", 0.95, lr="0.1")
    with CaptureQueriesContext(connection) as queries:
        names = _names(default_workspace, experiment)

    assert names == ["best", "good"]
    assert run_queries._kept_run_search.cache_info().hits == 1
    # The experiments, the page of pks, the runs and their data: the ORM builds nothing.
    assert len(queries) == 4


def test_the_kept_statement_of_one_workspace_never_answers_for_another(default_workspace, make_workspace):
    mine = create_experiment(workspace=default_workspace, name="mine")
    other_workspace = make_workspace("theirs")
    theirs = create_experiment(workspace=other_workspace, name="theirs")
    _logged_run(mine, "my-run", 0.8)
    _logged_run(theirs, "their-run", 0.9)

    assert _names(default_workspace, mine) == ["my-run"]
    assert _names(other_workspace, theirs) == ["their-run"]
    # The same experiment number in another workspace is that workspace's experiment, or none.
    assert _names(other_workspace, mine) == (["their-run"] if theirs.number == mine.number else [])


def test_pages_of_a_kept_search_hold_every_run_once(default_workspace, experiment):
    for i in range(7):
        _logged_run(experiment, f"r{i}", 0.6 + i / 100)

    names, token = [], None
    while True:
        page = search_runs(
            default_workspace,
            experiment_ids=[str(experiment.number)],
            max_results=3,
            page_token=token,
            **SEARCH,
        )
        names += [record.name for record in page.runs]
        token = page.next_page_token
        if token is None:
            break

    assert names == [f"r{i}" for i in reversed(range(7))]


def test_a_filter_that_does_not_compile_is_refused_every_time_and_not_kept(default_workspace, experiment):
    run_queries._kept_run_search.cache_clear()
    for _ in range(2):
        with pytest.raises(InvalidParameterValue):
            _names(default_workspace, experiment, filter_string="metrics.acc >>> 1")
    assert run_queries._kept_run_search.cache_info().currsize == 0


def test_a_long_filter_is_compiled_each_time_rather_than_kept(default_workspace, experiment):
    run_queries._kept_run_search.cache_clear()
    _logged_run(experiment, "wanted", 0.8)
    names = " or ".join(f"attributes.run_name = 'unwanted-{i:02d}-{'x' * 60}'" for i in range(30))
    long_filter = f"attributes.run_name = 'wanted' or {names}"
    assert len(long_filter) > run_queries._KEPT_FILTER_LENGTH

    assert _names(default_workspace, experiment, filter_string=long_filter, order_by=[]) == ["wanted"]
    assert run_queries._kept_run_search.cache_info().currsize == 0
