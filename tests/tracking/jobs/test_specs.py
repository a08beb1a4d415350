"""Environment specifications: requirements.txt, conda.yaml and python_env.yaml read into one normal
form (Python version, sorted normalized requirements, mlflow-skinny added), and its hash."""

from __future__ import annotations

import pytest

from tracking.jobs.specs import SpecError, default_spec, find_spec, parse_spec, read_spec


def test_spellings_of_the_same_requirements_have_one_normal_form_and_one_hash():
    one = parse_spec("pip", "Six >= 1.0\n# a comment\n\ntomli  # inline\nrequests[socks,security]==2.31\n")
    two = parse_spec("pip", "requests[Security,SOCKS] == 2.31\ntomli\nsix>=1.0\n")

    assert one.requirements == ("mlflow-skinny", "requests[security,socks]==2.31", "six>=1.0", "tomli")
    assert one.normalized == two.normalized and one.hash == two.hash
    assert parse_spec("pip", "six>=1.1\n").hash != one.hash


def test_mlflow_skinny_is_added_unless_mlflow_is_listed():
    assert "mlflow-skinny" in parse_spec("pip", "six\n").requirements
    assert parse_spec("pip", "MLflow==3.1\n").requirements == ("mlflow==3.1",)
    assert parse_spec("pip", "mlflow_skinny>=3\n").requirements == ("mlflow-skinny>=3",)
    assert default_spec().requirements == ("mlflow-skinny",) and default_spec().python == ""


def test_markers_urls_and_continuations_are_kept_in_normal_form():
    spec = parse_spec(
        "pip",
        "tomli; python_version < '3.11'\nsix @ https://files.example/six-1.16.0-py2.py3-none-any.whl\n"
        "numpy\\\n  >=1.26\n",
    )

    assert spec.requirements == (
        "mlflow-skinny",
        "numpy>=1.26",
        "six @ https://files.example/six-1.16.0-py2.py3-none-any.whl",
        'tomli; python_version < "3.11"',
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-e /srv/studio\n", "requirements.txt, line 1: '-e /srv/studio': options are not accepted"),
        ("six\n--index-url https://evil.test/simple\n", "line 2: '--index-url https://evil.test/simple'"),
        ("six --hash=sha256:abc\n", "line 1: 'six --hash=sha256:abc' is not a requirement"),
        ("./local-package\n", "is not a requirement"),
        ("pkg @ file:///etc/passwd\n", "only http(s) URLs are accepted"),
        ("-r other.txt\n", "'-r other.txt' names a file; list its requirements"),
    ],
)
def test_options_local_paths_and_files_are_refused(text, message):
    with pytest.raises(SpecError) as refused:
        parse_spec("pip", text)

    assert message in str(refused.value)


def test_python_env_yaml_gives_its_python_and_build_and_run_dependencies():
    spec = parse_spec(
        "python_env",
        'python: "3.11.4"\nbuild_dependencies:\n  - pip\n  - setuptools==69.0\ndependencies:\n  - six\n  - mlflow==3.1\n',
    )

    assert (spec.kind, spec.python) == ("python_env", "3.11.4")
    assert spec.requirements == ("mlflow==3.1", "pip", "setuptools==69.0", "six")


def test_conda_yaml_gives_its_python_and_pip_section():
    spec = parse_spec(
        "conda",
        "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip<=24\n"
        "  - pip:\n      - six==1.16.0\n      - tomli\n",
    )

    assert (spec.kind, spec.python) == ("conda", "3.11")
    assert spec.requirements == ("mlflow-skinny", "six==1.16.0", "tomli")
    assert parse_spec("conda", "dependencies: ['python>=3.10']\n").python == ">=3.10"
    assert parse_spec("conda", "dependencies: ['python==3.12.1']\n").python == "3.12.1"


def test_a_conda_only_dependency_is_refused_saying_what_to_do():
    with pytest.raises(SpecError) as refused:
        parse_spec("conda", "dependencies:\n  - python=3.11\n  - conda-forge::numpy=1.26\n  - cudatoolkit\n")

    assert str(refused.value) == (
        "conda.yaml asks for conda packages (conda-forge::numpy=1.26, cudatoolkit); this worker builds "
        "environments with uv from a Python package index and has no conda. List them under the 'pip:' "
        "section (with their PyPI names), or use a requirements.txt."
    )


def test_the_snapshot_s_specification_is_found_as_mlflow_finds_it(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    assert find_spec(tmp_path) == ("pip", (tmp_path / "requirements.txt").resolve())

    (tmp_path / "conda.yaml").write_text("dependencies: [{pip: [tomli]}]\n")
    assert find_spec(tmp_path)[0] == "conda"

    (tmp_path / "python_env.yaml").write_text("python: '3.11'\ndependencies: [-r requirements.txt]\n")
    spec = read_spec(tmp_path)
    assert (spec.kind, spec.python, spec.requirements) == ("python_env", "3.11", ("mlflow-skinny", "six"))

    (tmp_path / "MLproject").write_text("name: x\nconda_env: env/other.yaml\n")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "other.yaml").write_text("dependencies: [{pip: [attrs]}]\n")
    (tmp_path / "python_env.yaml").unlink()
    assert read_spec(tmp_path).requirements == ("attrs", "mlflow-skinny")


def test_an_include_may_not_leave_the_snapshot(tmp_path):
    (tmp_path / "python_env.yaml").write_text("dependencies: ['-r ../../etc/passwd']\n")

    with pytest.raises(SpecError) as refused:
        read_spec(tmp_path)

    assert "'-r ../../etc/passwd' is outside the snapshot" in str(refused.value)


def test_a_snapshot_without_a_specification_has_none(tmp_path):
    (tmp_path / "train.py").write_text("")

    assert find_spec(tmp_path) is None and read_spec(tmp_path) is None
