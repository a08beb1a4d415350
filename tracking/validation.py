"""MLflow's rules for names, keys, values and batch sizes, in one place."""

from __future__ import annotations

import posixpath
import re

from tracking.errors import InvalidParameterValue

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASETS_PER_BATCH = 1000
MAX_RUN_NAME_LENGTH = 250
MAX_RESULTS_LIMIT = 50000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500

_KEY_CHARACTERS = re.compile(r"^[/\w.\- :]*$")
_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/)."
)


def check_key(key: str, path: str, kind: str = "key") -> str:
    """A metric, param or tag key: MLflow's characters, no path tricks, at most 250 characters."""
    if not _KEY_CHARACTERS.match(key):
        raise InvalidParameterValue(
            f"Invalid value {key!r} for parameter '{path}' supplied. {_BAD_CHARACTERS}"
        )
    normalised = posixpath.normpath(key)
    # Keys become file names in some stores; one that resolves to another name is refused.
    if normalised != key or normalised == "." or normalised.startswith(("..", "/")):
        raise InvalidParameterValue(
            f"Invalid value {key!r} for parameter '{path}' supplied. Names may be treated as files in "
            f"certain cases, and must not resolve to other names when treated as such. This name would "
            f"resolve to {normalised!r}"
        )
    check_length(f"{kind} '{key[:50]}'", key, MAX_KEY_LENGTH)
    return key


def check_length(what: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidParameterValue(
            f"{what} exceeds the maximum length of {limit} characters ({len(value)})."
        )
    return value


def truncate(value: str, limit: int) -> str:
    """MLflow truncates over-long param and tag values instead of refusing them."""
    return value if len(value) <= limit else value[:limit]


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    for name, count, limit in (
        ("metrics", metrics, MAX_METRICS_PER_BATCH),
        ("params", params, MAX_PARAMS_TAGS_PER_BATCH),
        ("tags", tags, MAX_PARAMS_TAGS_PER_BATCH),
        ("metrics, params, and tags", metrics + params + tags, MAX_ENTITIES_PER_BATCH),
    ):
        if count > limit:
            raise InvalidParameterValue(
                f"A batch logging request can contain at most {limit} {name}. Got {count} {name}. "
                f"Please split up {name} across multiple requests and try again."
            )


def check_experiment_name(name: str) -> str:
    if not name:
        raise InvalidParameterValue(f"Invalid experiment name: '{name}'")
    return check_length("Experiment name", name, MAX_EXPERIMENT_NAME_LENGTH)


def check_max_results(max_results: int, limit: int = MAX_RESULTS_LIMIT) -> int:
    if max_results <= 0 or max_results > limit:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be at most {limit}, and greater than 0."
        )
    return max_results
