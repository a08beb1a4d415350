"""Jobs' environments: recorded per workspace and specification, built once even when two workers
need one at the same time, evicted least recently used first (never one a job is using), deleted."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tracking.errors import InvalidState
from tracking.jobs import environment_folders as folders
from tracking.jobs.environments import prepare_environment
from tracking.jobs.runner import Output
from tracking.jobs.specs import parse_spec
from tracking.models import Environment, Job
from tracking.services.environments import declare_environment, delete_environment, evict_environments

pytestmark = pytest.mark.django_db


@pytest.fixture
def environments_dir(settings, sandbox_reachable_folder):
    settings.ENVIRONMENTS_DIR = sandbox_reachable_folder / "environments"
    return settings.ENVIRONMENTS_DIR


def _built(workspace, requirement: str, *, size: int, used_days_ago: int | None) -> Environment:
    environment = declare_environment(
        workspace=workspace, spec=parse_spec("pip", requirement), name=requirement
    )
    (environment.folder / "bin").mkdir(parents=True)
    (environment.folder / "bin" / "python").symlink_to("/bin/sh")
    (environment.folder / folders.MARKER).write_text("{}")
    used = None if used_days_ago is None else timezone.now() - timedelta(days=used_days_ago)
    Environment.objects.filter(pk=environment.pk).update(status="READY", size_bytes=size, last_used_at=used)
    environment.refresh_from_db()
    return environment


def test_a_specification_is_one_row_per_workspace(default_workspace, make_workspace):
    other = make_workspace("other")
    spec = parse_spec("pip", "six\n")

    first = declare_environment(workspace=default_workspace, spec=spec, name="a")
    again = declare_environment(workspace=default_workspace, spec=spec, name="b")
    elsewhere = declare_environment(workspace=other, spec=spec, name="a")

    assert first.pk == again.pk and again.name == "b" and elsewhere.pk != first.pk
    assert first.folder != elsewhere.folder


def test_eviction_removes_the_least_recently_used_until_under_the_cap_and_spares_those_in_use(
    default_workspace, environments_dir, submit
):
    never_used = _built(default_workspace, "a", size=100, used_days_ago=None)
    old_in_use = _built(default_workspace, "b", size=100, used_days_ago=30)
    old = _built(default_workspace, "c", size=100, used_days_ago=20)
    recent = _built(default_workspace, "d", size=100, used_days_ago=1)
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(status="RUNNING", environment=old_in_use)

    evicted = evict_environments(max_bytes=250)

    assert evicted == [never_used.pk, old.pk]
    statuses = dict(Environment.objects.values_list("name", "status"))
    assert statuses == {"a": "EVICTED", "b": "READY", "c": "EVICTED", "d": "READY"}
    assert not never_used.folder.exists() and not old.folder.exists()
    assert old_in_use.folder.exists() and recent.folder.exists()
    assert evict_environments(max_bytes=250) == []  # under the cap now


def test_eviction_leaves_a_folder_another_process_holds(default_workspace, environments_dir):
    held = _built(default_workspace, "a", size=100, used_days_ago=5)
    fd = folders.open_lock(held.folder)
    assert folders.try_lock(fd, exclusive=False)  # as a job running in it does
    try:
        assert evict_environments(max_bytes=0) == []
    finally:
        import os

        os.close(fd)
    assert held.folder.exists()


def test_deleting_removes_the_row_and_folder_but_not_while_a_job_uses_it(
    default_workspace, environments_dir, submit
):
    environment = _built(default_workspace, "a", size=100, used_days_ago=1)
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(environment=environment)  # QUEUED

    with pytest.raises(InvalidState, match="used by a queued or running job"):
        delete_environment(environment=environment)
    Job.objects.filter(pk=job.pk).update(status="SUCCEEDED")
    delete_environment(environment=environment)

    assert not Environment.objects.exists() and not environment.folder.exists()
    job.refresh_from_db()
    assert job.environment is None


@pytest.mark.django_db(transaction=True)
def test_two_workers_needing_the_same_environment_build_it_once(
    default_workspace, environments_dir, submit, settings, tmp_path
):
    from django.db import connection

    jobs = [submit({"requirements.txt": "six\n"}, "python t.py") for _ in range(2)]
    outputs = [Output(tmp_path / f"{n}.log", 10**7) for n in range(2)]
    leases, errors = [None, None], []

    def prepare(n):
        try:
            work = tmp_path / f"work{n}"
            work.mkdir()
            (work / "requirements.txt").write_text("six\n")
            leases[n] = prepare_environment(
                Job.objects.select_related("workspace", "environment").get(pk=jobs[n].pk),
                work,
                output=outputs[n],
                beat=lambda: None,
                outer_user_differs=False,
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=prepare, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    for output in outputs:
        output.close()

    assert errors == []
    logs = [output.path.read_text() for output in outputs]
    assert sum("Building the environment" in log for log in logs) == 1, logs
    assert leases[0].folder == leases[1].folder and folders.is_whole(leases[0].folder)
    environment = Environment.objects.get()
    assert environment.status == "READY" and environment.size_bytes > 0
    assert environment.requirements == ["mlflow-skinny", "six"]
    assert list(Job.objects.values_list("environment_id", flat=True)) == [environment.pk] * 2
    assert not list((environments_dir / ".building").iterdir())  # no scratch folder left
    for lease in leases:
        lease.release()
