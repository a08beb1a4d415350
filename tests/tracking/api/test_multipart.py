"""The multipart endpoints (`mpu/create|complete|abort`) in-process: who may use them, and what
they answer on each kind of store. The client's whole round trip is in
tests/compat/test_object_store_artifacts.py."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.object_stores import S3_BUCKET
from tracking.artifacts import default_store
from tracking.services.artifacts import workspace_prefix

pytestmark = pytest.mark.django_db

CREATE = "/ws/team-a/api/2.0/mlflow-artifacts/mpu/create/1/run/artifacts"
ABORT = "/ws/team-a/api/2.0/mlflow-artifacts/mpu/abort/1/run/artifacts"


def post(client, path: str, body: dict, token: str):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.fixture
def tokens(team, personal_token):
    return {
        persona: personal_token(team.user(persona), team.workspace)
        for persona in ("owner", "contributor", "reader", "outsider")
    }


@pytest.fixture
def on_s3(s3_service, settings):
    settings.ARTIFACT_ROOT = f"s3://{S3_BUCKET}/api-{uuid.uuid4().hex}"
    return default_store()


@pytest.mark.parametrize(
    ("persona", "status"), [("owner", 200), ("contributor", 200), ("reader", 403), ("outsider", 404)]
)
def test_contributors_may_upload_in_parts_as_they_may_upload(
    client, auth_on, team, tokens, on_s3, persona, status
):
    answer = post(client, CREATE, {"path": "/home/me/w.bin", "num_parts": 3}, tokens[persona])
    assert answer.status_code == status, answer.content
    if status == 200:
        created = answer.json()
        assert [part["part_number"] for part in created["credentials"]] == [1, 2, 3]
        key = f"{on_s3.prefix}/{workspace_prefix(team.workspace)}/1/run/artifacts/w.bin"
        assert all(f"/{S3_BUCKET}/{key}?" in part["url"] for part in created["credentials"])
        aborted = post(
            client, ABORT, {"path": "/home/me/w.bin", "upload_id": created["upload_id"]}, tokens[persona]
        )
        assert (aborted.status_code, aborted.json()) == (200, {})


def test_on_the_local_store_create_answers_501_with_the_message_the_client_falls_back_on(
    client, auth_on, team, tokens, settings, tmp_path
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    answer = post(client, CREATE, {"path": "/home/me/w.bin", "num_parts": 3}, tokens["contributor"])
    assert answer.status_code == 501
    assert answer.json() == {
        "error_code": "NOT_IMPLEMENTED",
        "message": "Multipart upload is not supported for the current artifact repository",
    }


def test_server_info_follows_the_store(client, settings, tmp_path, s3_service):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    local = client.get("/api/3.0/mlflow/server-info").json()
    settings.ARTIFACT_ROOT = f"s3://{S3_BUCKET}/api"
    s3 = client.get("/api/3.0/mlflow/server-info").json()
    settings.ARTIFACT_PRESIGNED_DOWNLOADS = False
    s3_streaming = client.get("/api/3.0/mlflow/server-info").json()
    assert (local["multipart_uploads_enabled"], local["multipart_downloads_enabled"]) == (False, False)
    assert (s3["multipart_uploads_enabled"], s3["multipart_downloads_enabled"]) == (True, True)
    assert (s3_streaming["multipart_uploads_enabled"], s3_streaming["multipart_downloads_enabled"]) == (
        True,
        False,
    )
