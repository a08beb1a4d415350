"""Reading a model folder: the MLmodel, environment files, file list, and every way it can be broken."""

from __future__ import annotations

import io

import pytest

from registry.mlmodel import (
    MAX_INPUT_EXAMPLE_BYTES,
    MAX_TEXT_BYTES,
    ModelFolderError,
    parse_mlmodel,
    read_model_folder,
)
from tracking.artifacts import LocalArtifactStore

from .conftest import MLMODEL, MODEL_FILES, SIGNATURE_INPUTS, SIGNATURE_OUTPUTS


@pytest.fixture
def store(tmp_path):
    return LocalArtifactStore(tmp_path / "store")


def put(store, files: dict[str, str | bytes], folder: str = "model") -> str:
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        store.save(f"{folder}/{name}", io.BytesIO(data))
    return folder


def test_it_parses_flavors_signature_and_metadata():
    mlmodel = parse_mlmodel(MLMODEL.encode())
    assert set(mlmodel.flavors) == {"python_function", "sklearn"}
    assert mlmodel.flavors["sklearn"]["serialization_format"] == "skops"
    assert mlmodel.signature_inputs == SIGNATURE_INPUTS
    assert mlmodel.signature_outputs == SIGNATURE_OUTPUTS
    assert mlmodel.signature_params is None
    assert mlmodel.saved_input_example_info == {"artifact_path": "input_example.json", "type": "ndarray"}
    assert (mlmodel.model_uuid, mlmodel.mlflow_version, mlmodel.run_id) == ("0a1b2c3d", "3.17.2", "abc")
    assert mlmodel.utc_time_created == "2026-01-01 10:00:00.000000"
    assert mlmodel.env_files() == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


def test_it_accepts_an_mlmodel_without_flavors_or_signature():
    mlmodel = parse_mlmodel(b"artifact_path: model\nflavors: {}\n")
    assert mlmodel.flavors == {}
    assert mlmodel.signature_inputs is None
    assert mlmodel.env_files() == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


def test_it_reads_the_old_single_conda_env_spelling():
    mlmodel = parse_mlmodel(b"flavors:\n  python_function:\n    env: my_env.yaml\n")
    assert mlmodel.env_files()["conda"] == "my_env.yaml"


def test_it_turns_yaml_values_json_cannot_hold_into_strings():
    mlmodel = parse_mlmodel(b"flavors:\n  custom:\n    when: 2024-01-02\n    ratio: .nan\n    1: one\n")
    assert mlmodel.flavors == {"custom": {"when": "2024-01-02", "ratio": "nan", "1": "one"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"flavors: [unclosed", "not valid YAML"),
        (b"- a\n- b\n", "must be a YAML mapping, not a list"),
        (b"just text", "must be a YAML mapping, not a string"),
        (b"", "must be a YAML mapping, not nothing"),
        (b"flavors: [a, b]\n", "'flavors' must be a mapping"),
        (b"signature: 3\n", "'signature' must be a mapping"),
        (b"signature:\n  inputs: '[{not json'\n", "signature 'inputs' is not valid JSON"),
        (b"signature:\n  inputs: '{\"a\": 1}'\n", "signature 'inputs' must be a JSON list"),
        (b"\xff\xfe flavors", "is not UTF-8 text"),
        (b"!!python/object:os.system {}\n", "not valid YAML"),
        (b"[" * 50_000, "nested too deeply"),
        (b"utc_time_created: 2024-13-45\n", "not valid YAML: month must be in 1..12"),
        (b"model_size_bytes: !!int many\n", "not valid YAML"),
    ],
    ids=[
        "bad-yaml",
        "a-list",
        "a-string",
        "empty",
        "flavors-list",
        "signature-number",
        "signature-bad-json",
        "signature-not-a-list",
        "not-utf8",
        "python-object-tag",
        "deep-nesting",
        "impossible-date",
        "bad-typed-value",
    ],
)
def test_it_refuses_a_broken_mlmodel_with_a_readable_message(content, message):
    with pytest.raises(ModelFolderError, match=message):
        parse_mlmodel(content, "The MLmodel file at mlflow-artifacts:/1/x")


def test_it_refuses_a_yaml_alias_bomb_before_expanding_it():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(ModelFolderError, match="too many values"):
        parse_mlmodel("\n".join(lines).encode())


def test_it_refuses_a_self_referencing_document():
    with pytest.raises(ModelFolderError, match="too many values"):
        parse_mlmodel(b"flavors: &loop\n  again: *loop\n")


def test_it_reads_a_whole_model_folder(store):
    folder = put(store, MODEL_FILES)
    model = read_model_folder(store, folder, "mlflow-artifacts:/1/r/artifacts/model")
    assert model.mlmodel.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert dict(model.files) == {name: len(content.encode()) for name, content in MODEL_FILES.items()}
    assert model.total_size == sum(len(content.encode()) for content in MODEL_FILES.values())
    assert "scikit-learn==1.5.0" in model.requirements
    assert model.conda_env.startswith("name: mlflow-env")
    assert model.python_env.startswith("python: 3.11.7")
    assert model.input_example == MODEL_FILES["input_example.json"]


def test_it_lists_files_in_subfolders_relative_to_the_model(store):
    folder = put(
        store, {"MLmodel": "flavors: {}\n", "code/helpers.py": "x = 1\n", "data/weights.bin": b"\0" * 10}
    )
    model = read_model_folder(store, folder, "here")
    assert sorted(model.files) == [("MLmodel", 12), ("code/helpers.py", 6), ("data/weights.bin", 10)]
    assert model.requirements == model.conda_env == model.python_env == model.input_example == ""


def test_a_folder_without_mlmodel_is_refused_naming_the_source(store):
    folder = put(store, {"notes.txt": "hello"})
    with pytest.raises(
        ModelFolderError, match="There is no MLmodel file at mlflow-artifacts:/1/r/artifacts/m"
    ):
        read_model_folder(store, folder, "mlflow-artifacts:/1/r/artifacts/m")


def test_a_missing_folder_is_refused_like_a_folder_without_mlmodel(store):
    with pytest.raises(ModelFolderError, match="There is no MLmodel file"):
        read_model_folder(store, "nowhere", "mlflow-artifacts:/1/r/artifacts/nowhere")


def test_an_mlmodel_over_the_limit_is_refused_without_being_read(store, monkeypatch):
    folder = put(store, {"MLmodel": "flavors: {}\n" + "#" * MAX_TEXT_BYTES})
    monkeypatch.setattr(store, "open", lambda path: pytest.fail("a file over the limit was opened"))
    with pytest.raises(ModelFolderError, match=f"files the registry reads may have at most {MAX_TEXT_BYTES}"):
        read_model_folder(store, folder, "src")


def test_requirements_over_the_limit_are_refused(store):
    folder = put(store, {"MLmodel": "flavors: {}\n", "requirements.txt": "x\n" * MAX_TEXT_BYTES})
    with pytest.raises(ModelFolderError, match=r"requirements.txt in src has \d+ bytes"):
        read_model_folder(store, folder, "src")


def test_environment_files_that_are_not_text_are_refused(store):
    folder = put(store, {"MLmodel": "flavors: {}\n", "conda.yaml": b"\xff\xfe\x00"})
    with pytest.raises(ModelFolderError, match=r"conda\.yaml in src is not UTF-8 text"):
        read_model_folder(store, folder, "src")


def test_a_large_input_example_is_not_kept_but_registration_goes_on(store):
    files = {**MODEL_FILES, "input_example.json": "[" + "1," * MAX_INPUT_EXAMPLE_BYTES + "1]"}
    model = read_model_folder(store, put(store, files), "src")
    assert model.input_example == ""
    assert model.mlmodel.saved_input_example_info["artifact_path"] == "input_example.json"


def test_file_names_in_the_mlmodel_cannot_read_outside_the_folder(store):
    store.save("secret.txt", io.BytesIO(b"do not read"))
    mlmodel = (
        "flavors:\n  python_function:\n    env:\n      conda: ../secret.txt\n"
        "saved_input_example_info:\n  artifact_path: ../secret.txt\n"
    )
    model = read_model_folder(store, put(store, {"MLmodel": mlmodel}), "src")
    assert model.conda_env == "" and model.input_example == ""


def test_a_very_large_folder_keeps_a_bounded_file_list_but_counts_every_byte(store, monkeypatch):
    monkeypatch.setattr("registry.mlmodel.MAX_LISTED_FILES", 2)
    folder = put(
        store, {"MLmodel": "flavors: {}\n", "requirements.txt": "x\n", "a/1.bin": b"1", "b/2.bin": b"22"}
    )
    model = read_model_folder(store, folder, "src")
    assert model.files == [("MLmodel", 12), ("requirements.txt", 2)]
    assert model.total_size == 12 + 2 + 1 + 2
    assert model.requirements == "x\n"
