"""MLflow's rules for registry names, tags, aliases, versions and stages, in one place.

Messages follow MLflow's (`mlflow/utils/validation.py`), so a client sees the same words.
Key rules reuse the tracking ones: a registry tag key is checked like a run tag key.
"""

from __future__ import annotations

import posixpath
import re

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.validation import check_key, check_length

from .models import ACTIVE_STAGES, STAGES

MAX_MODEL_NAME_LENGTH = 256
MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 100_000
MAX_VERSION_NUMBER = 2**31 - 1
MAX_REGISTERED_MODEL_RESULTS = 1000
MAX_MODEL_VERSION_RESULTS = 200_000

LATEST_ALIAS = "latest"
PROMPT_TAG = "mlflow.prompt.is_prompt"
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # set on a logged model for each of its versions

_ALIAS_CHARACTERS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_STAGES_BY_LOWER = {stage.lower(): stage for stage in STAGES}
_SEE_DOCS = " See the API docs for more information about request parameters."


def check_text(field: str, value: str) -> str:
    """PostgreSQL cannot hold NUL in text, not even as a query parameter: refuse it up front."""
    if "\x00" in value:
        raise InvalidParameterValue(f"Invalid value for parameter '{field}': it contains a NUL character.")
    return value


def check_model_name(name: str, field: str = "name") -> str:
    if not name or not name.strip():
        raise InvalidParameterValue(f"Missing value for required parameter '{field}'.{_SEE_DOCS}")
    if "/" in name or ":" in name:
        raise InvalidParameterValue(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    check_text(field, name)
    normalised = posixpath.normpath(name)
    if normalised != name or normalised == "." or normalised.startswith(".."):
        raise InvalidParameterValue(
            f"Invalid value {name!r} for parameter '{field}' supplied. Names may be treated as files in "
            f"certain cases, and must not resolve to other names when treated as such. This name would "
            f"resolve to {normalised!r}"
        )
    return check_length("Model name", name, MAX_MODEL_NAME_LENGTH)


def check_tag(key: str, value: str, path: str = "key") -> tuple[str, str]:
    check_key(key, path, "Tag key")
    check_text(f"value of tag '{key}'", value)
    check_length(f"Value of tag '{key}'", value, MAX_TAG_VALUE_LENGTH)
    return key, value


def check_tags(tags: list[tuple[str, str]]) -> dict[str, str]:
    """Checked tags, the last value winning for a repeated key (as MLflow stores them)."""
    return dict(check_tag(key, value, f"tags[{index}].key") for index, (key, value) in enumerate(tags))


def check_description(description: str) -> str:
    return check_length("Description", check_text("description", description), MAX_DESCRIPTION_LENGTH)


def check_alias(alias: str) -> str:
    if not alias:
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS_CHARACTERS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), "
            "and dashes (-)."
        )
    return check_length("Registered model alias name", alias, MAX_ALIAS_LENGTH)


def check_settable_alias(alias: str) -> str:
    """An alias a version may be given: `latest` and `v<digits>` name versions already."""
    check_alias(alias)
    if alias.lower() == LATEST_ALIAS:
        raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(alias):
        raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def parse_version(version: str | int, name: str) -> int:
    """The version number of a request; one no version can have is RESOURCE_DOES_NOT_EXIST."""
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got '{version}'.") from None
    if not 1 <= number <= MAX_VERSION_NUMBER:
        # Checked here so that a huge number never reaches an integer column.
        raise version_not_found(name, version)
    return number


def version_not_found(name: str, version: str | int) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def model_not_found(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def canonical_stage(stage: str) -> str:
    """'production' -> 'Production'; anything else than the four stages is refused."""
    found = _STAGES_BY_LOWER.get(stage.lower()) if isinstance(stage, str) else None
    if found is None:
        raise InvalidParameterValue(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}."
        )
    return found


def check_archiving_stage(stage: str) -> None:
    if stage not in ACTIVE_STAGES:
        raise InvalidParameterValue(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}"
        )


def check_max_results(max_results: int, limit: int) -> int:
    if max_results < 1 or max_results > limit:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be a positive integer of at most {limit}."
        )
    return max_results
