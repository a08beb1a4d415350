"""The SDK as a package: its own dependencies, its entry point, no Django."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import import_module

from .conftest import SDK


def test_it_depends_only_on_mlflow_and_requests():
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    names = {
        dependency.split(">")[0].split("<")[0].split("=")[0].strip() for dependency in project["dependencies"]
    }
    assert names == {"mlflow-skinny", "requests"}


def test_it_declares_its_header_provider_to_mlflow():
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["mlflow.request_header_provider"]["studio"]
    module, _, name = target.partition(":")
    from studio_sdk.auth import StudioRequestHeaderProvider

    assert getattr(import_module(module), name) is StudioRequestHeaderProvider


def test_importing_it_loads_no_django():
    code = "import sys, studio_sdk; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SDK)}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
