"""What a trace used, as numbers: its token counts (metadata `mlflow.trace.tokenUsage`) and each
span's cost, model and provider (attributes `mlflow.llm.cost`, `mlflow.llm.model`,
`mlflow.llm.provider`). MLflow 3.17.2's store keeps them as columns beside the JSON they come
from, parsed as it parses them, so that QueryTraceMetrics aggregates them in the database; a value
that is not a number (or not a whole one, for tokens) is no value.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

TOKEN_USAGE_METADATA = "mlflow.trace.tokenUsage"
COST_ATTRIBUTE = "mlflow.llm.cost"
MODEL_ATTRIBUTE = "mlflow.llm.model"
PROVIDER_ATTRIBUTE = "mlflow.llm.provider"
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
COST_COLUMNS = ("input_cost", "output_cost", "total_cost")
MAX_MODEL_CHARS = 500
_BIGINT = 2**63


def _json_object(text: Any) -> dict[str, Any]:
    if isinstance(text, str):
        try:
            text = json.loads(text)
        except ValueError:
            return {}
    return text if isinstance(text, dict) else {}


def _token_count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value() or not -_BIGINT <= number < _BIGINT:
        return None
    return int(number)


def _finite_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def token_columns(metadata: dict[str, str]) -> dict[str, int | None]:
    """The token columns a trace's metadata sets: none without `mlflow.trace.tokenUsage`, else
    those of the keys it has (a key it lacks leaves its column as it was, as in MLflow)."""
    if TOKEN_USAGE_METADATA not in metadata:
        return {}
    usage = _json_object(metadata[TOKEN_USAGE_METADATA])
    return {column: _token_count(usage[column]) for column in TOKEN_COLUMNS if column in usage}


def _attribute_value(text: str | None) -> Any:
    # Span attributes are kept as JSON text (a string attribute is a quoted JSON string).
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _model_dimension(value: Any) -> str | None:
    # No database column holds NUL: a sender's name with one is no name.
    return value[:MAX_MODEL_CHARS] if isinstance(value, str) and "\x00" not in value else None


def span_columns(attributes: dict[str, Any]) -> dict[str, float | str | None]:
    """A span's cost, model and provider columns, from its attributes."""
    cost = _json_object(attributes.get(COST_ATTRIBUTE))
    return {
        **{column: _finite_float(cost.get(column)) for column in COST_COLUMNS},
        "model_name": _model_dimension(_attribute_value(attributes.get(MODEL_ATTRIBUTE))),
        "model_provider": _model_dimension(_attribute_value(attributes.get(PROVIDER_ATTRIBUTE))),
    }
