"""Hypothesis strategies for bad and hostile input, shared by the tests that throw it at the MLflow
API and the studio API: wrong types, missing and extra fields, huge and negative numbers, NaN,
deep nesting, long strings, odd Unicode, and ids that exist beside ids that do not.

And the one check every such test makes after each request (`assert_answered_well`): no 5xx,
an MLflow-shaped error, and, for a refusal, not a row written (`row_counts`).
"""

from __future__ import annotations

import math
import os
from typing import Any

from django.apps import apps
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# How many requests each fuzzed endpoint gets (CI runs the default; more to dig deeper locally).
EXAMPLES = int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # the same examples on every machine, no local example database
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202e\u0627\u0644",
        "\ud7ff\ue000\uffff",
        "😀" * 50,
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "%",
        "_",
        "`",
        "\\",
        "NaN",
        "Infinity",
        "-1",
        "9" * 40,
        "x" * 70_000,
    ]
)
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT)
INTEGERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, 1e308, -1e-308])
)
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
JSON = st.recursive(
    SCALARS.filter(lambda value: not (isinstance(value, float) and not math.isfinite(value))),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Nesting deeper than any parser should follow: sent as text (json.dumps would refuse it).
DEEP_JSON = st.integers(min_value=900, max_value=5000).map(lambda depth: "[" * depth + "]" * depth)


def any_value(real: list[Any] | None = None) -> st.SearchStrategy[Any]:
    """Anything at all for a field: right-looking or wrong, and now and then a real id."""
    choices = [SCALARS, JSON]
    if real:
        choices.insert(0, st.sampled_from(real))
    return st.one_of(*choices)


# Written by the workers themselves while the tests run (heartbeats, and the targets they serve).
BACKGROUND_TABLES = {"studio_workerheartbeat", "tracking_computetarget"}


def row_counts() -> tuple[int, ...]:
    """The number of rows of every table, in one query: a refused request changes none."""
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.managed and model._meta.db_table not in BACKGROUND_TABLES
    )
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def assert_answered_well(answer, what: str, counts_before: tuple[int, ...]) -> None:
    status = answer.status_code
    assert status < 500, f"{what}: {status} {answer.content[:500]!r}"
    if status >= 400:
        assert answer.headers.get("Content-Type") == "application/json", f"{what}: {answer.headers}"
        body = answer.json()
        assert isinstance(body.get("error_code"), str) and isinstance(body.get("message"), str), (what, body)
        assert row_counts() == counts_before, f"{what}: refused with {status}, but rows were written"
