"""Where an experiment's artifacts go when its creator names a location."""

from __future__ import annotations

import os

import pytest

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
