"""MLflow projects: an entry point of an MLproject file, and its parameters, as a command."""

from __future__ import annotations

import pytest

from tracking.jobs.projects import ProjectError, project_command

MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      data: {type: path}
      name: {type: string, default: "two words"}
    command: "python train.py --alpha {alpha} --data {data} --name {name}"
  validate:
    command: "python validate.py"
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "MLproject").write_text(MLPROJECT)
    (tmp_path / "train.py").write_text("")
    (tmp_path / "other.py").write_text("")
    return tmp_path


def test_declared_parameters_are_substituted_quoted_with_their_defaults(project):
    command, values = project_command(project, "main", {"data": "in.csv"})

    assert command == "python train.py --alpha 0.1 --data in.csv --name 'two words'"
    assert values == {"alpha": "0.1", "data": "in.csv", "name": "two words"}


def test_undeclared_parameters_are_appended_as_options(project):
    command, values = project_command(project, "main", {"data": "d", "seed": 3})

    assert command.endswith("--name 'two words' --seed 3")
    assert values["seed"] == "3"


def test_a_parameter_without_a_default_must_be_given(project):
    with pytest.raises(ProjectError, match="needs the parameter 'data', which has no default"):
        project_command(project, "main", {})


def test_a_value_is_checked_against_its_type(project):
    with pytest.raises(ProjectError, match="'alpha' must be a float"):
        project_command(project, "main", {"data": "d", "alpha": "high"})


def test_a_python_file_of_the_project_is_an_entry_point_too(project):
    assert project_command(project, "other.py", {"x": "1"}) == ("python other.py --x 1", {"x": "1"})


def test_an_unknown_entry_point_names_the_known_ones(project):
    with pytest.raises(ProjectError, match=r"no entry point 'evaluate' \(its entry points: main, validate\)"):
        project_command(project, "evaluate", {})


def test_a_folder_without_mlproject_runs_its_python_files(tmp_path):
    (tmp_path / "train.py").write_text("")
    assert project_command(tmp_path, "train.py", {}) == ("python train.py", {})


def test_a_malformed_mlproject_is_a_clear_error(tmp_path):
    (tmp_path / "MLproject").write_text("entry_points: [1, 2\n")
    with pytest.raises(ProjectError, match="not valid YAML"):
        project_command(tmp_path, "main", {})
    (tmp_path / "MLproject").write_text("entry_points:\n  main:\n    parameters: {}\n")
    with pytest.raises(ProjectError, match="has no 'command'"):
        project_command(tmp_path, "main", {})
