"""Where an experiment's artifacts go when its creator names a location."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tracking.errors import ResourceAlreadyExists
from tracking.models import Experiment
from tracking.services.experiments import create_experiment


def test_without_a_location_artifacts_go_through_this_server_s_proxy(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="proxied")
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment.number}"


@pytest.mark.parametrize(
    "location", ["s3://bucket/path", "mlflow-artifacts:/elsewhere", "/data/exp", "file:x"]
)
def test_a_uri_or_an_absolute_path_is_kept_as_given(default_workspace, settings, location):
    settings.STUDIO_REQUIRE_AUTH = False
    experiment = create_experiment(workspace=default_workspace, name="given", artifact_location=location)
    assert experiment.artifact_location == location


def test_in_local_mode_a_relative_path_is_made_absolute_as_mlflow_s_server_does(default_workspace, settings):
    """Client and server share the machine: the client writes where `mlflow server`'s would."""
    settings.STUDIO_REQUIRE_AUTH = False
    experiment = create_experiment(
        workspace=default_workspace, name="relative", artifact_location="my_location/./sub/../models"
    )
    assert experiment.artifact_location == os.path.join(os.getcwd(), "my_location", "models")


def test_with_sign_in_required_a_relative_path_says_nothing_of_the_server_s_folders(
    default_workspace, settings
):
    settings.STUDIO_REQUIRE_AUTH = True
    experiment = create_experiment(
        workspace=default_workspace, name="relative", artifact_location="my_location"
    )
    assert experiment.artifact_location == "my_location"


def test_a_taken_name_is_refused_without_using_up_a_number(default_workspace):
    first = create_experiment(workspace=default_workspace, name="taken", tags=[("a", "1")])
    with pytest.raises(ResourceAlreadyExists, match=r"Experiment\(name=taken\) already exists"):
        create_experiment(workspace=default_workspace, name="taken", tags=[("a", "2")])
    following = create_experiment(workspace=default_workspace, name="next")
    assert following.number == first.number + 1
    assert list(first.tags.values_list("value", flat=True)) == ["1"]


def test_creation_takes_the_counter_and_the_rows_without_looking_first(
    default_workspace, django_assert_num_queries
):
    create_experiment(workspace=default_workspace, name="warm")
    # The counter bumped and read in one statement, the experiment, its tags: no look-up first.
    # PostgreSQL: all three in one statement (in the suite's transaction, within a savepoint).
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 5):
        create_experiment(workspace=default_workspace, name="counted", tags=[("k", "v")])


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_creation_is_one_statement_and_a_taken_name_leaves_no_trace(
    default_workspace, django_assert_num_queries
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes the number and inserts in a transaction of its own")
    first = create_experiment(workspace=default_workspace, name="one", tags=[("a", "1"), ("b", "ü")])
    assert first.artifact_location == f"mlflow-artifacts:/{first.number}"

    with django_assert_num_queries(1):
        second = create_experiment(workspace=default_workspace, name="two", artifact_location="s3://b/p")
    with pytest.raises(ResourceAlreadyExists), django_assert_num_queries(1):
        create_experiment(workspace=default_workspace, name="one", tags=[("a", "2")])

    third = create_experiment(workspace=default_workspace, name="three")
    assert (second.number, third.number) == (first.number + 1, first.number + 2)
    assert second.artifact_location == "s3://b/p"
    stored = Experiment.objects.get(pk=first.pk)
    assert (stored.number, stored.artifact_location) == (first.number, first.artifact_location)
    assert dict(stored.tags.values_list("key", "value")) == {"a": "1", "b": "ü"}
