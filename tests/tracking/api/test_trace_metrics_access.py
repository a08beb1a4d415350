"""Who may query trace metrics (QueryTraceMetrics, a read): every member of the workspace,
Readers too; from another workspace the experiment's traces are not there; an outsider is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracking.services import traces as trace_services
from tracking.services.experiments import create_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(team):
    experiment = create_experiment(workspace=team.workspace, name="measured")
    for number, state in enumerate(["OK", "OK", "ERROR"]):
        trace_services.start_trace(
            workspace=team.workspace,
            experiment=experiment,
            info=trace_services.TraceInfoInput(
                trace_id=f"tr-{number:032x}",
                request_time=datetime(2026, 1, 1, tzinfo=UTC),
                execution_duration_ms=5,
                state=state,
            ),
        )
    return experiment


def _query(client, workspace: str, token: str, experiment_id: str):
    body = {
        "experiment_ids": [experiment_id],
        "view_type": "TRACES",
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
        "dimensions": ["trace_status"],
    }
    return client.post(
        f"/ws/{workspace}/api/3.0/mlflow/traces/metrics",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_reader_queries_the_metrics(client, auth_on, team, personal_token, experiment):
    answer = _query(
        client, "team-a", personal_token(team.user("reader"), team.workspace), experiment.experiment_id
    )

    assert answer.status_code == 200
    assert answer.json()["data_points"] == [
        {"metric_name": "trace_count", "dimensions": {"trace_status": "ERROR"}, "values": {"COUNT": 1.0}},
        {"metric_name": "trace_count", "dimensions": {"trace_status": "OK"}, "values": {"COUNT": 2.0}},
    ]


def test_from_another_workspace_the_traces_are_not_there(client, auth_on, team, personal_token, experiment):
    # The owner of team-a is also the owner of team-b: from there, team-a's experiment is not there.
    answer = _query(
        client, "team-b", personal_token(team.user("owner"), team.other), experiment.experiment_id
    )

    assert (answer.status_code, answer.json()) == (200, {})


def test_an_outsider_is_refused(client, auth_on, team, personal_token, experiment):
    answer = _query(
        client, "team-a", personal_token(team.user("outsider"), team.workspace), experiment.experiment_id
    )

    assert answer.status_code in (403, 404)
    assert "trace_status" not in answer.content.decode()
