"""Issues in the domain: what MLflow 3.18 added (chosen ids per workspace, metadata merged under a
lock, categories kept searchable), and the migration that brings issues stored before it along."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists
from tracking.models import Issue, IssueCategory
from tracking.models.issues import category_key
from tracking.services.experiments import create_experiment
from tracking.services.issues import create_issue, update_issue

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="quality")


def test_categories_are_searchable_by_a_key_that_ignores_case_and_spaces(experiment):
    issue = create_issue(experiment=experiment, name="n", description="d", categories=["Tone", " tone ", "x"])

    assert issue.categories == ["Tone", " tone ", "x"]
    assert set(IssueCategory.objects.filter(issue=issue).values_list("key", flat=True)) == {
        category_key("tone"),
        category_key("x"),
    }
    update_issue(issue=issue, categories=["y"])
    assert list(IssueCategory.objects.filter(issue=issue).values_list("key", flat=True)) == [
        category_key("y")
    ]
    update_issue(issue=issue, categories=[])
    assert not IssueCategory.objects.filter(issue=issue).exists()
    assert Issue.objects.get(pk=issue.pk).categories is None


def test_a_chosen_id_is_unique_in_its_workspace_only(experiment, make_workspace):
    create_issue(experiment=experiment, name="n", description="d", issue_id="iss-a")
    with pytest.raises(ResourceAlreadyExists, match="iss-a"):
        create_issue(experiment=experiment, name="again", description="d", issue_id="iss-a")
    other = create_experiment(workspace=make_workspace("issues-b"), name="theirs")
    assert create_issue(experiment=other, name="theirs", description="d", issue_id="iss-a").workspace_id == (
        other.workspace_id
    )
    assert Issue.objects.filter(issue_id="iss-a").count() == 2


def test_a_source_run_of_another_experiment_is_refused(experiment, default_workspace):
    from tracking.services.runs import create_run

    elsewhere = create_run(experiment=create_experiment(workspace=default_workspace, name="other"))
    with pytest.raises(InvalidParameterValue, match="source run"):
        create_issue(experiment=experiment, name="n", description="d", source_run=elsewhere)
    assert not Issue.objects.exists()


def test_metadata_is_merged_with_what_is_stored_not_with_what_the_caller_read(experiment):
    issue = create_issue(experiment=experiment, name="n", description="d", metadata={"a": "1"})
    stale = Issue.objects.get(pk=issue.pk)
    update_issue(issue=issue, metadata={"b": "2"})

    update_issue(issue=stale, metadata={"c": "3"})  # read before the other update
    assert Issue.objects.get(pk=issue.pk).metadata == {"a": "1", "b": "2", "c": "3"}
    update_issue(issue=stale, delete_metadata_keys=["a", "b", "c"])
    assert Issue.objects.get(pk=issue.pk).metadata is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_stored_issues_their_workspace_and_category_keys(default_workspace):
    executor = MigrationExecutor(connection)
    before = [("tracking", "0024_metric_points_checked_by_their_insert")]
    after = [("tracking", "0025_issues_of_mlflow_3_18")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    experiment = old.get_model("tracking", "Experiment").objects.get(
        workspace_id=default_workspace.pk, number=0
    )
    old.get_model("tracking", "Issue").objects.create(
        issue_id="iss-old", experiment_id=experiment.pk, name="old", description="d",
        categories=["Speed", "speed ", "c" * 400], created_at=T0, updated_at=T0,
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    migrated = Issue.objects.get(issue_id="iss-old")
    assert migrated.workspace_id == default_workspace.pk and migrated.last_seen_at is None
    assert set(IssueCategory.objects.filter(issue=migrated).values_list("key", flat=True)) == {
        category_key("speed"),
        category_key("c" * 400),
    }
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
