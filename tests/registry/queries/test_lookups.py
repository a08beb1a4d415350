"""Registry look-ups: latest versions per stage, aliases, `latest`, and workspace scoping."""

from __future__ import annotations

import pytest

from registry.models import ModelVersion
from registry.queries.model_versions import get_model_version_by_alias, get_model_version_record
from registry.queries.registered_models import get_latest_versions, get_registered_model_record
from registry.services.model_versions import delete_model_version, transition_model_version_stage
from registry.services.registered_models import create_registered_model, set_registered_model_alias
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist

from ..conftest import register


@pytest.fixture
def staged(workspace, registered, run, model_source):
    """Versions 1-5: 1 Archived, 2 and 3 Production, 4 Staging, 5 None."""
    versions = [register(workspace, registered, run, model_source) for _ in range(5)]
    for version, stage in zip(versions, ["Archived", "Production", "Production", "Staging"], strict=False):
        transition_model_version_stage(version=version, stage=stage)
    return versions


def test_latest_versions_are_the_highest_of_each_stage(workspace, staged):
    latest = get_latest_versions(workspace, "registered")
    assert [(v.version, v.current_stage) for v in latest] == [
        (1, "Archived"),
        (3, "Production"),
        (4, "Staging"),
        (5, "None"),
    ]
    assert [v.version for v in get_latest_versions(workspace, "registered", ["production", "STAGING"])] == [
        3,
        4,
    ]
    delete_model_version(version=ModelVersion.objects.get(version=3))
    assert [v.version for v in get_latest_versions(workspace, "registered", ["Production"])] == [2]


def test_a_model_without_versions_has_no_latest_versions_but_exists(workspace):
    create_registered_model(workspace=workspace, name="empty")
    assert get_latest_versions(workspace, "empty") == []
    assert get_registered_model_record(workspace, "empty").latest_versions == []
    with pytest.raises(ResourceDoesNotExist):
        get_latest_versions(workspace, "missing")
    with pytest.raises(InvalidParameterValue, match="Invalid Model Version stage: Shipped"):
        get_latest_versions(workspace, "empty", ["Shipped"])


def test_a_registered_model_record_carries_latest_versions_with_their_aliases(workspace, registered, staged):
    set_registered_model_alias(model=registered, alias="champion", version="3")
    set_registered_model_alias(model=registered, alias="fallback", version="1")
    record = get_registered_model_record(workspace, "registered")
    assert sorted(record.aliases) == [("champion", 3), ("fallback", 1)]
    by_version = {v.version: v.aliases for v in record.latest_versions}
    assert by_version == {1: ["fallback"], 3: ["champion"], 4: [], 5: []}


def test_an_alias_names_its_version_and_latest_names_the_highest(workspace, registered, staged):
    set_registered_model_alias(model=registered, alias="champion", version="2")
    assert get_model_version_by_alias(workspace, "registered", "champion").version == 2
    assert get_model_version_by_alias(workspace, "registered", "LATEST").version == 5
    with pytest.raises(InvalidParameterValue, match="Registered model alias ghost not found"):
        get_model_version_by_alias(workspace, "registered", "ghost")
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=missing not found"):
        get_model_version_by_alias(workspace, "missing", "champion")


def test_look_ups_see_only_their_own_workspace(workspace, staged, make_workspace):
    other = make_workspace("other")
    create_registered_model(workspace=other, name="registered")
    assert get_model_version_record(workspace, "registered", "5").version == 5
    with pytest.raises(ResourceDoesNotExist):
        get_model_version_record(other, "registered", "5")
    assert get_latest_versions(other, "registered") == []
    assert get_registered_model_record(other, "registered").latest_versions == []
