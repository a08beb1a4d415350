"""The Compute page: each compute target with its live workers, slots, and running and queued
jobs; a target with queued jobs and no live worker says how to start one."""

from __future__ import annotations

import pytest
from django.test import Client

from tracking.models import ComputeTarget, Job
from tracking.services.compute import record_heartbeat

pytestmark = pytest.mark.django_db


def submit(workspace, tmp_path, target: str) -> Job:
    from tests.tracking.jobs.conftest import zip_bytes
    from tracking.services.jobs import resolve_experiment, submit_job

    snapshot = tmp_path / f"{Job.objects.count()}.zip"
    snapshot.write_bytes(zip_bytes({"train.py": ""}))
    experiment = resolve_experiment(workspace=workspace, experiment_name="jobs")
    return submit_job(
        workspace=workspace, experiment=experiment, snapshot=snapshot, command="python train.py",
        compute_target=target, enqueue=False,
    )  # fmt: skip


def test_the_page_lists_targets_with_their_live_workers_in_a_fixed_number_of_queries(
    default_workspace, tmp_path, django_assert_max_num_queries
):
    ComputeTarget.objects.create(name="gpu-a100", description="two A100s")
    record_heartbeat(hostname="default.1@box", targets=["default"], concurrency=4, serves_general=True)
    for _ in range(2):
        submit(default_workspace, tmp_path, "gpu-a100")

    with django_assert_max_num_queries(5):
        page = Client().get("/ws/default/compute/").content.decode()

    default, gpu = page.split('data-target="default"')[1], page.split('data-target="gpu-a100"')[1]
    assert 'data-field="state">1 live worker<' in default and "default.1@box" in default
    assert 'data-field="slots">4<' in default
    assert 'data-field="state">no live worker<' in gpu and 'data-field="queued">2<' in gpu
    assert "manage.py serve --only worker --queues gpu-a100" in gpu and "two A100s" in gpu


def test_a_reader_sees_the_page_and_an_outsider_does_not(auth_on, team):
    for persona, status in (("reader", 200), ("outsider", 404)):
        browser = Client()
        browser.force_login(team.user(persona))
        assert browser.get("/ws/team-a/compute/").status_code == status, persona
    assert not Job.objects.exists()
