"""The SDK's environments, as the seed writes them: `Environment.from_pip_requirements(name, path)`,
`Environment.from_conda_specification(name, path)` and `ScriptRunConfig(..., environment=env)`."""

from __future__ import annotations

import pytest
from studio_sdk import Environment, Experiment, ScriptRunConfig, StudioError, Workspace

from tracking.models import Job


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text("import six\n")
    return folder


@pytest.fixture
def tracking_uri(deployed) -> str:
    """The server as it ships: its worker builds the environments and runs the jobs."""
    return deployed.url


def test_a_script_run_config_carries_its_pip_environment_to_the_job(tracking_uri, source, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\ntomli\n")
    env = Environment.from_pip_requirements(name="training-env", file_path=requirements)

    run = Experiment(Workspace(tracking_uri, "default"), "envs").submit(
        ScriptRunConfig(source_directory=source, script="train.py", environment=env)
    )

    finished = run.wait_for_completion(timeout=180, poll_seconds=0.2)  # `import six` works there
    job = Job.objects.select_related("environment").get(pk=run.job_id)
    assert finished["status"] == "SUCCEEDED"
    assert (env.name, env.kind) == ("training-env", "pip")
    assert job.environment.name == "training-env" and job.environment.kind == "pip"
    assert job.environment.spec_text == "six==1.16.0\ntomli\n"
    assert job.environment.requirements == ["mlflow-skinny", "six==1.16.0", "tomli"]


def test_a_conda_specification_is_sent_as_conda_and_its_pip_section_is_kept(tracking_uri, source, tmp_path):
    conda = tmp_path / "conda.yaml"
    conda.write_text("dependencies:\n  - python=3.11\n  - pip:\n      - six\n")
    env = Environment.from_conda_specification("conda-env", conda)

    run = Experiment(Workspace(tracking_uri, "default"), "envs").submit(
        ScriptRunConfig(source_directory=source, script="train.py", environment=env)
    )

    environment = Job.objects.select_related("environment").get(pk=run.job_id).environment
    assert (environment.kind, environment.python_asked, environment.requirements) == (
        "conda",
        "3.11",
        ["mlflow-skinny", "six"],
    )


def test_a_conda_only_package_is_refused_at_submission(tracking_uri, source, tmp_path):
    conda = tmp_path / "conda.yaml"
    conda.write_text("dependencies:\n  - cudatoolkit=11.8\n")

    with pytest.raises(StudioError) as refused:
        Experiment(Workspace(tracking_uri, "default"), "envs").submit(
            ScriptRunConfig(
                source_directory=source,
                script="train.py",
                environment=Environment.from_conda_specification("gpu", conda),
            )
        )

    assert "asks for conda packages (cudatoolkit=11.8)" in str(refused.value)
    assert not Job.objects.exists()
