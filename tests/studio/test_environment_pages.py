"""The studio's Environments page: a workspace's environments with what they install, their size,
when they were last used and by how many jobs; deleting one (not while a job uses it)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from tracking.jobs.specs import parse_spec
from tracking.models import Environment, Job
from tracking.services.environments import declare_environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def environments(default_workspace, make_workspace, settings, sandbox_reachable_folder, submit_job_for):
    settings.ENVIRONMENTS_DIR = sandbox_reachable_folder / "environments"
    used = declare_environment(workspace=default_workspace, spec=parse_spec("pip", "six\n"), name="with-six")
    Environment.objects.filter(pk=used.pk).update(
        status="READY", size_bytes=52_428_800, last_used_at=timezone.now()
    )
    used.folder.mkdir(parents=True)
    for _ in range(2):
        Job.objects.filter(pk=submit_job_for(default_workspace).pk).update(
            status="SUCCEEDED", environment=used
        )
    unused = declare_environment(
        workspace=default_workspace, spec=parse_spec("pip", "tomli\n"), name="tomli-only"
    )
    elsewhere = declare_environment(
        workspace=make_workspace("other"), spec=parse_spec("pip", "attrs\n"), name="other-workspace-env"
    )
    return used, unused, elsewhere


@pytest.fixture
def submit_job_for(settings, sandbox_reachable_folder):
    from tests.tracking.jobs.conftest import snapshot_file
    from tracking.services.jobs import resolve_experiment, submit_job

    settings.JOBS_DIR = sandbox_reachable_folder / "jobs"

    def make(workspace):
        experiment = resolve_experiment(workspace=workspace, experiment_name="e")
        return submit_job(
            workspace=workspace, experiment=experiment, snapshot=snapshot_file(settings, {"t.py": ""}),
            command="python t.py", enqueue=False,
        )  # fmt: skip

    return make


def test_the_page_lists_the_workspace_s_environments_in_few_queries(
    environments, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        page = Client().get("/ws/default/environments/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "with-six" in html and "tomli-only" in html and "other-workspace-env" not in html
    row = html[html.index("with-six") : html.index("tomli-only")]
    assert "50.0\xa0MB" in row and "<td>2</td>" in row and "mlflow-skinny, six" in row and "ready" in row
    assert 'href="/ws/default/environments/"' in html  # in the workspace's navigation


def test_deleting_an_environment_removes_it_and_its_folder(environments):
    used, unused, _ = environments
    client = Client(enforce_csrf_checks=True)
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"',
        client.get("/ws/default/environments/").content.decode(),
    ).group(1)

    response = client.post(f"/ws/default/environments/{used.pk}/delete", {"csrfmiddlewaretoken": token})

    assert response.status_code == 303 and response["Location"] == "/ws/default/environments/"
    assert not Environment.objects.filter(pk=used.pk).exists() and not used.folder.exists()
    assert Environment.objects.filter(pk=unused.pk).exists()


def test_an_environment_a_queued_job_uses_is_not_deleted(environments, submit_job_for, default_workspace):
    used, _, _ = environments
    Job.objects.filter(pk=submit_job_for(default_workspace).pk).update(environment=used)  # QUEUED

    response = Client().post(f"/ws/default/environments/{used.pk}/delete")

    assert response.status_code == 400
    assert "is used by a queued or running job" in response.content.decode()
    assert Environment.objects.filter(pk=used.pk).exists()


def test_another_workspace_s_environment_is_not_found(environments):
    _, _, elsewhere = environments

    response = Client().post(f"/ws/default/environments/{elsewhere.pk}/delete")

    assert response.status_code == 404 and Environment.objects.filter(pk=elsewhere.pk).exists()
