"""`manage.py import_mlruns PATH`: queue an import, follow it, print the report."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ensure_default_workspace
from tests.integration.mlruns_generator import generate
from tracking.models import Import, Run, Workspace

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.IMPORTS_DIR = tmp_path / "imports"


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=3, points=60, keys=2, experiments=1)
    (root / "100" / "not-a-run").mkdir()
    (root / "100" / "not-a-run" / "meta.yaml").write_text("run_id: [\n")
    return root


def test_in_process_it_imports_and_prints_counts_read_and_written_and_the_problems(store):
    ensure_default_workspace()
    out = io.StringIO()

    call_command("import_mlruns", str(store), "--in-process", stdout=out)

    text = out.getvalue()
    assert Run.objects.count() == 3
    assert f"Import {Import.objects.get().pk}: SUCCEEDED" in text
    lines = {
        line.split()[0]: line.split()[1:]
        for line in text.splitlines()
        if line.startswith("  ") and line.split()
    }
    assert lines["runs"] == ["4", "3"]
    assert lines["metrics"] == ["60", "60"]
    assert lines["params"] == ["9", "9"]
    assert "1 problems:" in text
    assert "100/not-a-run/meta.yaml: malformed YAML" in text


def test_with_no_wait_it_queues_the_import_and_returns(store, monkeypatch):
    ensure_default_workspace()
    sent = []
    monkeypatch.setattr("tracking.tasks.import_mlruns.delay", sent.append)
    out = io.StringIO()

    call_command("import_mlruns", str(store), "--no-wait", stdout=out)

    row = Import.objects.get()
    assert row.status == "QUEUED" and sent == [row.pk]
    assert f"/api/studio/v1/workspaces/default/imports/{row.pk}" in out.getvalue()
    assert Run.objects.count() == 0


def test_it_imports_into_the_workspace_named(store, make_workspace):
    ensure_default_workspace()
    make_workspace("team-a")

    call_command("import_mlruns", str(store), "--workspace", "team-a", "--in-process", stdout=io.StringIO())

    assert Run.objects.filter(experiment__workspace__name="team-a").count() == 3


def test_it_refuses_a_missing_path_or_workspace(tmp_path, store):
    ensure_default_workspace()
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_mlruns", str(tmp_path / "nowhere"), stdout=io.StringIO())
    with pytest.raises(
        CommandError, match=r"Workspace .nobody. does not exist\. Add --create-workspace to create it"
    ):
        call_command("import_mlruns", str(store), "--workspace", "nobody", stdout=io.StringIO())
    assert not Import.objects.exists()


def test_it_creates_the_workspace_when_asked(store):
    ensure_default_workspace()
    out = io.StringIO()

    call_command(
        "import_mlruns",
        str(store),
        "--workspace",
        "new-team",
        "--create-workspace",
        "--in-process",
        stdout=out,
    )

    assert "Created workspace 'new-team' in resource group 'default'." in out.getvalue()
    assert Run.objects.filter(experiment__workspace__name="new-team").count() == 3


def test_it_creates_the_resource_group_too_and_refuses_a_bad_name(store):
    call_command(
        "import_mlruns", str(store), "--workspace", "lab", "--create-workspace", "--resource-group", "research",
        "--in-process", stdout=io.StringIO(),
    )  # fmt: skip
    assert Workspace.objects.get(name="lab").resource_group.name == "research"

    with pytest.raises(CommandError, match="Invalid workspace name 'Bad Name'"):
        call_command(
            "import_mlruns", str(store), "--workspace", "Bad Name", "--create-workspace", stdout=io.StringIO()
        )
    assert not Workspace.objects.filter(name="Bad Name").exists()


def test_a_failed_import_exits_with_an_error(tmp_path):
    ensure_default_workspace()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not a zip")

    with pytest.raises(CommandError, match="corrupt"):
        call_command("import_mlruns", str(broken), "--in-process", stdout=io.StringIO(), stderr=io.StringIO())
    assert Import.objects.get().status == "FAILED"
