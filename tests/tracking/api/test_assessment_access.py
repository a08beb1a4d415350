"""Who may read and write a trace's assessments: members read, Contributors and Owners write, a
Reader may not, and a trace of another workspace is not there at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracking.models import Assessment
from tracking.services import traces as trace_services
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.experiments import create_experiment

pytestmark = pytest.mark.django_db

TRACE_ID = "tr-" + "cd" * 16


@pytest.fixture
def judged(team):
    experiment = create_experiment(workspace=team.workspace, name="judged")
    trace = trace_services.start_trace(
        workspace=team.workspace,
        experiment=experiment,
        info=trace_services.TraceInfoInput(
            trace_id=TRACE_ID,
            request_time=datetime(2026, 1, 1, tzinfo=UTC),
            execution_duration_ms=5,
            state="OK",
        ),
    )
    return create_assessment(
        trace=trace,
        item=AssessmentInput(name="quality", assessment_type="feedback", value=0.5, source_type="HUMAN"),
    )


def _call(client, method: str, workspace: str, path: str, token: str, body: dict | None = None):
    return getattr(client, method)(
        f"/ws/{workspace}/api/3.0/mlflow/traces/{path}",
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


NEW_FEEDBACK = {
    "assessment": {
        "assessment_name": "tone",
        "source": {"source_type": "HUMAN", "source_id": "someone"},
        "feedback": {"value": "fine"},
    }
}


def test_a_reader_reads_assessments_but_cannot_write_them(client, auth_on, team, personal_token, judged):
    token = personal_token(team.user("reader"), team.workspace)

    read = _call(client, "get", "team-a", f"{TRACE_ID}/assessments/{judged.assessment_id}", token)
    created = _call(client, "post", "team-a", f"{TRACE_ID}/assessments", token, NEW_FEEDBACK)
    deleted = _call(client, "delete", "team-a", f"{TRACE_ID}/assessments/{judged.assessment_id}", token)

    assert read.status_code == 200
    assert read.json()["assessment"]["feedback"] == {"value": 0.5}
    assert created.status_code == deleted.status_code == 403
    assert Assessment.objects.count() == 1


def test_a_contributor_writes_assessments(client, auth_on, team, personal_token, judged):
    token = personal_token(team.user("contributor"), team.workspace)

    created = _call(client, "post", "team-a", f"{TRACE_ID}/assessments", token, NEW_FEEDBACK)

    assert created.status_code == 200
    assert created.json()["assessment"]["assessment_name"] == "tone"


def test_another_workspace_sees_no_trace_and_no_assessment(client, auth_on, team, personal_token, judged):
    # The owner of team-a is also the owner of team-b: from there, team-a's trace is not there.
    token = personal_token(team.user("owner"), team.other)

    read = _call(client, "get", "team-b", f"{TRACE_ID}/assessments/{judged.assessment_id}", token)
    created = _call(client, "post", "team-b", f"{TRACE_ID}/assessments", token, NEW_FEEDBACK)
    deleted = _call(client, "delete", "team-b", f"{TRACE_ID}/assessments/{judged.assessment_id}", token)

    assert read.status_code == created.status_code == 404
    assert deleted.status_code == 200  # deleting what is not there is no error, as in MLflow
    assert Assessment.objects.get().assessment_id == judged.assessment_id


def test_an_outsider_is_refused(client, auth_on, team, personal_token, judged):
    token = personal_token(team.user("outsider"), team.workspace)

    read = _call(client, "get", "team-a", f"{TRACE_ID}/assessments/{judged.assessment_id}", token)

    assert read.status_code in (403, 404)
    assert "quality" not in read.content.decode()
