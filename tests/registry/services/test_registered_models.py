"""Registered models: names, renames, tags, aliases and deletion."""

from __future__ import annotations

import pytest

from registry.models import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from registry.services.model_versions import delete_model_version, set_model_version_tag
from registry.services.registered_models import (
    create_registered_model,
    delete_registered_model,
    delete_registered_model_alias,
    rename_registered_model,
    set_registered_model_alias,
    set_registered_model_tag,
)
from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist

from ..conftest import register


@pytest.mark.parametrize("name", ["", "   ", "a/b", "a:b", "./a", "..", "x" * 257])
def test_it_refuses_names_mlflow_refuses(workspace, name):
    with pytest.raises(InvalidParameterValue):
        create_registered_model(workspace=workspace, name=name)
    assert not RegisteredModel.objects.exists()


def test_names_are_unique_per_workspace_only(workspace, make_workspace):
    create_registered_model(workspace=workspace, name="shared")
    with pytest.raises(ResourceAlreadyExists, match=r"Registered Model \(name=shared\) already exists."):
        create_registered_model(workspace=workspace, name="shared")
    create_registered_model(workspace=make_workspace("other"), name="shared")
    assert RegisteredModel.objects.filter(name="shared").count() == 2


def test_the_last_value_of_a_repeated_tag_key_wins(workspace):
    model = create_registered_model(workspace=workspace, name="tagged", tags=[("k", "1"), ("k", "2")])
    assert list(RegisteredModelTag.objects.filter(model=model).values_list("key", "value")) == [("k", "2")]
    set_registered_model_tag(model=model, key="k", value="3")
    assert RegisteredModelTag.objects.get(model=model).value == "3"


def test_a_rename_onto_a_taken_name_changes_nothing(workspace):
    first = create_registered_model(workspace=workspace, name="first")
    create_registered_model(workspace=workspace, name="second")
    with pytest.raises(ResourceAlreadyExists):
        rename_registered_model(model=first, new_name="second")
    with pytest.raises(InvalidParameterValue, match="new_name"):
        rename_registered_model(model=first, new_name="")
    assert sorted(RegisteredModel.objects.values_list("name", flat=True)) == ["first", "second"]


def test_an_alias_moves_between_versions_and_goes_with_its_version(workspace, registered, run, model_source):
    first, second = (register(workspace, registered, run, model_source) for _ in range(2))
    set_registered_model_alias(model=registered, alias="champion", version="1")
    set_registered_model_alias(model=registered, alias="champion", version="2")
    assert RegisteredModelAlias.objects.get().version_id == second.pk
    with pytest.raises(ResourceDoesNotExist, match=r"Model Version \(name=registered, version=3\) not found"):
        set_registered_model_alias(model=registered, alias="other", version="3")
    with pytest.raises(InvalidParameterValue, match="reserved"):
        set_registered_model_alias(model=registered, alias="v2", version="2")
    delete_model_version(version=second)
    assert not RegisteredModelAlias.objects.exists()
    delete_registered_model_alias(model=registered, alias="champion")  # already gone: no error
    assert first.pk


def test_deleting_a_model_deletes_its_versions_tags_and_aliases(workspace, registered, run, model_source):
    version = register(workspace, registered, run, model_source, tags=[("a", "b")])
    set_model_version_tag(version=version, key="c", value="d")
    set_registered_model_tag(model=registered, key="e", value="f")
    set_registered_model_alias(model=registered, alias="champion", version="1")
    delete_registered_model(model=registered)
    for table in (RegisteredModel, ModelVersion, ModelVersionTag, RegisteredModelTag, RegisteredModelAlias):
        assert not table.objects.exists(), table
