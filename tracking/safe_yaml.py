"""YAML documents read safely (plain data, no Python objects), with libyaml's parser where PyYAML
was built with it: some ten times faster than the pure-Python one, which stays the fallback. An
MLmodel read at every model registration and a meta.yaml read per imported run are on hot paths."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=SafeLoader)
