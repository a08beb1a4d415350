"""Start-up checks of the artifact root: a misconfigured object store stops `serve` with a clear
message, before any request is served."""

from __future__ import annotations

import pytest

from studio.checks import check_configuration


def problems_with_the_artifact_root() -> list[str]:
    return [problem.msg for problem in check_configuration() if problem.id == "studio.E006"]


def test_a_folder_as_artifact_root_passes(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    assert problems_with_the_artifact_root() == []


def test_an_azure_root_with_its_credentials_passes_without_a_request(settings, monkeypatch):
    # The account does not exist: nothing may be asked of it at start-up.
    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "c2VjcmV0")
    settings.ARTIFACT_ROOT = "wasbs://models@nobody.blob.core.windows.net/studio"
    assert problems_with_the_artifact_root() == []


def test_an_azure_root_without_credentials_stops_start_up_naming_the_variables(settings, monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)
    settings.ARTIFACT_ROOT = "wasbs://models@nobody.blob.core.windows.net/studio"
    [problem] = problems_with_the_artifact_root()
    assert "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCESS_KEY" in problem


@pytest.mark.parametrize(
    "root",
    [
        "wasbs://models@nobody.example.com/studio",
        "wasb://models@nobody.blob.core.windows.net/studio",
        "gs://b/p",
    ],
)
def test_a_malformed_or_unknown_object_store_root_stops_start_up(settings, monkeypatch, root):
    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "c2VjcmV0")
    settings.ARTIFACT_ROOT = root
    [problem] = problems_with_the_artifact_root()
    assert problem.startswith(f"STUDIO_ARTIFACT_ROOT={root}: ")


def test_a_server_requiring_sign_in_is_warned_to_set_a_secrets_key(settings):
    settings.STUDIO_REQUIRE_AUTH = True
    settings.GATEWAY_SECRETS_KEY = ""
    assert "studio.W002" in [problem.id for problem in check_configuration()]
    settings.GATEWAY_SECRETS_KEY = "a-long-random-secrets-key"
    assert "studio.W002" not in [problem.id for problem in check_configuration()]
