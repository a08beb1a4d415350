"""MLflow's rules for names, keys, values and batch sizes, in one place."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from tracking.errors import InvalidParameterValue

# The tail of MLflow's messages about a request's fields, which its clients' tests match whole.
SEE_THE_DOCS = " See the API docs for more information about request parameters."

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


def invalid_value(path: str, value: Any, reason: str) -> InvalidParameterValue:
    """MLflow's wording for a bad value, which clients and their tests match on: the value as
    compact JSON (cut short when long, so a hostile value cannot bloat the answer)."""
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return InvalidParameterValue(f"Invalid value {shown} for parameter '{path}' supplied: {reason}")


def check_key(key: str, path: str, kind: str | None = None) -> str:
    """A metric, param or tag key: MLflow's characters, no path tricks, at most 250 characters.

    `kind` names the key in the length error as MLflow does ("Metric name", "Param key");
    without it the error names the request's field."""
    if not _KEY_CHARACTERS.match(key):
        raise invalid_value(path, key, _BAD_CHARACTERS)
    normalised = posixpath.normpath(key)
    # Keys become file names in some stores; one that resolves to another name is refused.
    if normalised != key or normalised == "." or normalised.startswith(("..", "/")):
        raise invalid_value(
            path,
            key,
            "Names may be treated as files in certain cases, and must not resolve to other names when "
            f"treated as such. This name would resolve to {normalised!r}",
        )
    check_length(kind or path, key, MAX_KEY_LENGTH)
    return key


def check_length(what: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidParameterValue(f"'{what}' exceeds the maximum length of {limit} characters")
    return value


def truncate(value: str, limit: int) -> str:
    """MLflow truncates over-long param and tag values instead of refusing them."""
    return value if len(value) <= limit else value[:limit]


def check_id_count(ids: list[str], *, limit: int, request: str, field: str) -> None:
    """MLflow's words for a bulk request that names no ids or too many (`field` is singular)."""
    if not ids:
        raise InvalidParameterValue(f"{request} request must specify at least one {field}.")
    if len(ids) > limit:
        raise InvalidParameterValue(
            f"{request} request cannot specify more than {limit} {field}s. Received {len(ids)} {field}s."
        )


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
    return check_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)


def check_max_results(max_results: int, limit: int = MAX_RESULTS_LIMIT) -> int:
    # MLflow's wording; past the limit its own says only the value's type, so ours says the limit.
    if max_results <= 0:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer"
        )
    if max_results > limit:
        raise invalid_value("max_results", max_results, f"It must be at most {limit}")
    return max_results
