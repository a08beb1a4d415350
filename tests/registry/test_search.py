"""Registry search: MLflow's filter semantics, ordering and paging."""

from __future__ import annotations

import pytest

from registry.queries.model_versions import search_model_versions
from registry.queries.registered_models import search_registered_models
from registry.services.model_versions import set_model_version_tag, update_model_version
from registry.services.registered_models import create_registered_model
from tracking.errors import InvalidParameterValue
from tracking.services.runs import create_run

from .conftest import register, write_files


@pytest.fixture
def models(workspace):
    made = {}
    for name, team in (("Alpha", "red"), ("alpha-2", "blue"), ("beta", None)):
        tags = [("team", team)] if team else []
        made[name] = create_registered_model(workspace=workspace, name=name, tags=tags)
    return made


def names(workspace, filter_string="", **kwargs) -> list[str]:
    return [m.name for m in search_registered_models(workspace, filter_string=filter_string, **kwargs).models]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["Alpha", "alpha-2", "beta"]),
        ("name = 'beta'", ["beta"]),
        ("name != 'beta'", ["Alpha", "alpha-2"]),
        ("name LIKE 'alpha%'", ["alpha-2"]),
        ("name ILIKE 'alpha%'", ["Alpha", "alpha-2"]),
        ("name IN ('beta', 'Alpha')", ["Alpha", "beta"]),
        ("name NOT IN ('beta')", ["Alpha", "alpha-2"]),
        ("tags.team = 'red'", ["Alpha"]),
        ("tag.team != 'red'", ["alpha-2"]),
        ("tags.team LIKE '%e%'", ["Alpha", "alpha-2"]),
        ("tags.team = 'red' AND name ILIKE 'a%'", ["Alpha"]),
        ("tags.`team` ILIKE 'BLUE'", ["alpha-2"]),
    ],
)
def test_registered_model_filters_mean_what_they_mean_in_mlflow(workspace, models, filter_string, expected):
    assert names(workspace, filter_string) == expected


def test_registered_models_sort_by_name_or_time_and_page(workspace, models):
    assert names(workspace, order_by=["name DESC"]) == ["beta", "alpha-2", "Alpha"]
    assert names(workspace, order_by=["timestamp DESC"]) == ["beta", "alpha-2", "Alpha"]
    assert names(workspace, order_by=["creation_timestamp ASC"]) == ["Alpha", "alpha-2", "beta"]
    seen, token = [], None
    while True:
        page = search_registered_models(workspace, max_results=2, page_token=token)
        seen += [m.name for m in page.models]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["Alpha", "alpha-2", "beta"]


@pytest.fixture
def versions(workspace, experiment, run, models):
    source = write_files(workspace, f"{run.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})
    other = create_run(experiment=experiment)
    other_source = write_files(workspace, f"{other.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})
    made = [register(workspace, models["Alpha"], run, source) for _ in range(3)]
    made.append(register(workspace, models["beta"], other, other_source))
    set_model_version_tag(version=made[1], key="approved", value="yes")
    return {"run": run, "other": other, "versions": made}


def found(workspace, filter_string="", **kwargs) -> list[tuple[str, int]]:
    page = search_model_versions(workspace, filter_string=filter_string, **kwargs)
    return [(v.name, v.version) for v in page.versions]


def test_model_version_filters_mean_what_they_mean_in_mlflow(workspace, versions):
    run, other = versions["run"], versions["other"]
    assert found(workspace, f"run_id = '{other.uuid}'") == [("beta", 1)]
    assert found(workspace, f"run_id IN ('{run.uuid}')") == [("Alpha", 3), ("Alpha", 2), ("Alpha", 1)]
    assert found(workspace, "name = 'Alpha' AND version_number > 1") == [("Alpha", 3), ("Alpha", 2)]
    assert found(workspace, "version_number = '2'") == [("Alpha", 2)]
    assert found(workspace, "tags.approved = 'yes'") == [("Alpha", 2)]
    assert found(workspace, "tags.approved != 'no'") == [("Alpha", 2)]
    assert found(workspace, f"source_path = '{other.artifact_uri}/model'") == [("beta", 1)]
    assert found(workspace, "source_path LIKE '%/model'") == [
        ("beta", 1),
        ("Alpha", 3),
        ("Alpha", 2),
        ("Alpha", 1),
    ]


def test_versions_sort_by_last_update_by_default_then_name_and_version(workspace, versions):
    update_model_version(version=versions["versions"][0], description="touched")
    assert found(workspace) == [("Alpha", 1), ("beta", 1), ("Alpha", 3), ("Alpha", 2)]
    assert found(workspace, order_by=["name DESC", "version_number ASC"]) == [
        ("beta", 1),
        ("Alpha", 1),
        ("Alpha", 2),
        ("Alpha", 3),
    ]


def test_versions_page_with_opaque_tokens(workspace, versions):
    first = search_model_versions(workspace, max_results=3, order_by=["version_number ASC", "name ASC"])
    rest = search_model_versions(
        workspace,
        max_results=3,
        order_by=["version_number ASC", "name ASC"],
        page_token=first.next_page_token,
    )
    assert [(v.name, v.version) for v in first.versions + rest.versions] == [
        ("Alpha", 1),
        ("beta", 1),
        ("Alpha", 2),
        ("Alpha", 3),
    ]
    assert rest.next_page_token is None


@pytest.mark.parametrize(
    "filter_string",
    [
        "stage = 'None'",
        "tags.x IS NULL",
        "creation_timestamp > 0",
        "version_number LIKE '1'",
        "name = 'a' OR name = 'b'",
    ],
)
def test_model_version_filters_mlflow_refuses_are_refused(workspace, filter_string):
    with pytest.raises(InvalidParameterValue):
        search_model_versions(workspace, filter_string=filter_string)
