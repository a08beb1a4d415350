"""Specification of the MLflow search filter / order_by grammar (`tracking.search.grammar`).

Pure unit tests: no Django, no database. Expected behaviour follows MLflow 3.17's `search_utils`
and its SQL stores; the cases marked "differs from MLflow" document deliberate departures.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tracking.errors import InvalidParameterValue
from tracking.search.grammar import (
    MAX_COMPARISONS,
    MAX_NESTING,
    AllOf,
    AnyOf,
    Comparison,
    Not,
    OrderKey,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_logged_model_filter,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
    parse_run_filter,
    parse_run_order_by,
)

C = Comparison
K = OrderKey
ROOT = Path(__file__).resolve().parents[3]
ALL_FILTER_PARSERS = [
    parse_run_filter,
    parse_experiment_filter,
    parse_registered_model_filter,
    parse_model_version_filter,
    parse_logged_model_filter,
]


# ---------------------------------------------------------------------------------------------
# Runs: filters


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        # identifier prefixes and their synonyms
        ("metrics.acc > 0.9", [C("metric", "acc", ">", 0.9)]),
        ("metric.acc >= 1", [C("metric", "acc", ">=", 1.0)]),
        ("params.lr = '0.01'", [C("param", "lr", "=", "0.01")]),
        ("param.lr != '0.01'", [C("param", "lr", "!=", "0.01")]),
        ("parameter.lr = 'a'", [C("param", "lr", "=", "a")]),
        ("parameters.lr = 'a'", [C("param", "lr", "=", "a")]),
        ("tags.team = 'ml'", [C("tag", "team", "=", "ml")]),
        ("tag.team = 'ml'", [C("tag", "team", "=", "ml")]),
        ("attributes.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
        ("attribute.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
        ("attr.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
        ("run.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
        ("status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
        ("`metrics`.acc < 1", [C("metric", "acc", "<", 1.0)]),
        # every run attribute, canonicalised
        ("run_id = 'abc'", [C("attribute", "run_id", "=", "abc")]),
        ("run_name LIKE 'bert%'", [C("attribute", "run_name", "LIKE", "bert%")]),
        ("user_id ILIKE '%ANN%'", [C("attribute", "user_id", "ILIKE", "%ANN%")]),
        ("artifact_uri != 's3://b/x'", [C("attribute", "artifact_uri", "!=", "s3://b/x")]),
        ("start_time >= 1700000000000", [C("attribute", "start_time", ">=", 1700000000000)]),
        ("end_time <= 5", [C("attribute", "end_time", "<=", 5)]),
        ("created > 5", [C("attribute", "start_time", ">", 5)]),
        ("Created < 5", [C("attribute", "start_time", "<", 5)]),
        ("attributes.created = 5", [C("attribute", "start_time", "=", 5)]),
        ("`Run name` = 'x'", [C("attribute", "run_name", "=", "x")]),
        ("\"run name\" = 'x'", [C("attribute", "run_name", "=", "x")]),
        ("attributes.`Run Name` = 'x'", [C("attribute", "run_name", "=", "x")]),
        # key quoting: backticks, double quotes, single quotes; dots inside keys
        ("tags.`mlflow.runName` = 'x'", [C("tag", "mlflow.runName", "=", "x")]),
        ("tags.\"mlflow.runName\" = 'x'", [C("tag", "mlflow.runName", "=", "x")]),
        ("metrics.'val loss' < 1", [C("metric", "val loss", "<", 1.0)]),
        ("metrics.`val loss` < 1", [C("metric", "val loss", "<", 1.0)]),
        ("tags.mlflow.runName = 'x'", [C("tag", "mlflow.runName", "=", "x")]),
        ("metrics.`a``b` > 1", [C("metric", "a`b", ">", 1.0)]),
        ("metrics.é > 1", [C("metric", "é", ">", 1.0)]),
        # string values: quote styles and escapes
        ('params.x = "a b"', [C("param", "x", "=", "a b")]),
        ("params.x = ''", [C("param", "x", "=", "")]),
        # differs from MLflow, which keeps escapes verbatim (a value no stored string can match)
        ("params.x = 'it''s'", [C("param", "x", "=", "it's")]),
        ("params.x = 'it\\'s'", [C("param", "x", "=", "it's")]),
        ('params.x = "say \\"hi\\""', [C("param", "x", "=", 'say "hi"')]),
        ("params.x = 'C:\\dir'", [C("param", "x", "=", "C:\\dir")]),
        ("params.x = 'C:\\\\dir'", [C("param", "x", "=", "C:\\dir")]),
        ("params.x = 'a AND b'", [C("param", "x", "=", "a AND b")]),
        ("params.x = '1 OR 1=1 --'", [C("param", "x", "=", "1 OR 1=1 --")]),
        # numbers: metrics are floats, integer attributes stay ints
        ("metrics.x = -1.5", [C("metric", "x", "=", -1.5)]),
        ("metrics.x > 1e3", [C("metric", "x", ">", 1000.0)]),
        ("metrics.x > .5", [C("metric", "x", ">", 0.5)]),
        ("metrics.x > 2.5E-3", [C("metric", "x", ">", 0.0025)]),
        # differs from MLflow, whose SQL lexer splits these apart
        ("metrics.x > +5", [C("metric", "x", ">", 5.0)]),
        ("metrics.x > 1.5e+3", [C("metric", "x", ">", 1500.0)]),
        ("metrics.2023 > 1", [C("metric", "2023", ">", 1.0)]),
        ("created > 5.5", [C("attribute", "start_time", ">", 5.5)]),
        # keywords and comparators are case-insensitive, output is canonical upper case
        ("tags.x like 'a%'", [C("tag", "x", "LIKE", "a%")]),
        ("tags.x iLiKe 'a%'", [C("tag", "x", "ILIKE", "a%")]),
        ("params.x IS NULL", [C("param", "x", "IS NULL", None)]),
        ("tags.x is not null", [C("tag", "x", "IS NOT NULL", None)]),
        # IN lists
        ("run_id IN ('a', 'b')", [C("attribute", "run_id", "IN", ("a", "b"))]),
        ('attributes.run_id not in ("a",)', [C("attribute", "run_id", "NOT IN", ("a",))]),
        ("datasets.name IN ('train')", [C("dataset", "name", "IN", ("train",))]),
        ("dataset.digest NOT IN ('x', 'y')", [C("dataset", "digest", "NOT IN", ("x", "y"))]),
        ("datasets.context LIKE 'tr%'", [C("dataset", "context", "LIKE", "tr%")]),
        # conjunctions, whitespace
        (
            "metrics.acc>0.9 and params.model='cnn'AND tags.t IS NULL",
            [C("metric", "acc", ">", 0.9), C("param", "model", "=", "cnn"), C("tag", "t", "IS NULL", None)],
        ),
        ("  \n metrics.acc   >\t0.9  ", [C("metric", "acc", ">", 0.9)]),
        (
            "status = 'a' AND status = 'b'",
            [C("attribute", "status", "=", "a"), C("attribute", "status", "=", "b")],
        ),
    ],
)
def test_it_parses_run_filters(filter_string, expected):
    assert parse_run_filter(filter_string) == expected


@pytest.mark.parametrize(
    "filter_string",
    [
        "params.x = 'a' AND",
        "AND params.x = 'a'",
        "params.x = 'a' AND AND",
        "params.x = 'a' and",
    ],
)
def test_it_tolerates_dangling_and_like_mlflow(filter_string):
    # MLflow accepts these, and its registry client builds "<blank filter> AND tag..." itself.
    assert parse_run_filter(filter_string) == [C("param", "x", "=", "a")]


@pytest.mark.parametrize("parse", ALL_FILTER_PARSERS)
@pytest.mark.parametrize("filter_string", [None, "", "   ", "\n\t", "AND"])
def test_it_parses_empty_filters_as_no_comparisons(parse, filter_string):
    # Differs from MLflow for blank strings, which it rejects: they clearly mean "no filter".
    assert parse(filter_string) == []


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        # structure
        (
            "metrics.x > 1 metrics.y > 2",
            "Invalid clause(s) in filter string: 'metrics.y' at position 14. Join conditions with AND or OR",
        ),  # differs: MLflow ignores the missing AND
        ("params.x = 'a' 'b'", "Join conditions with AND or OR"),
        ("params.x = 'a' && params.y = 'b'", "unexpected character '&'"),
        ("params.x = 'a'; DROP TABLE runs", "unexpected character ';'"),
        ("params.x", "Expected a comparator and a value"),
        ("params.x AND metrics.y > 1", "Expected a comparator and a value"),
        ("params.x =", "expected a value after '='"),
        ("params.x = AND metrics.y > 1", "expected a value after '='"),
        ("'params'.x = 'a'", "unexpected character '.'"),
        ("'status' = 'a'", "Invalid clause(s) in filter string: ''status''"),
        ("= 'a'", "Invalid clause(s) in filter string: '='"),
        # quoting
        ("params.x = a", "Parameter value is either not quoted"),
        ("status = FINISHED", "Parameter value is either not quoted"),
        ("params.x = 'abc", "unterminated quoted text"),
        ("tags.`mlflow.runName = 'x'", "unterminated quoted text"),
        ("tags.a-b = 'x'", "unexpected character '-'"),
        ("tags.`a.b`.c = 'x'", "quote the whole key"),  # differs: MLflow's key would be "`a.b`.c"
        ("metrics.`` > 1", "the key must not be empty"),  # differs: MLflow searches key ""
        # identifiers
        ("foo.x = 'a'", "Invalid entity type 'foo'"),
        ("METRICS.x > 1", "Invalid entity type 'METRICS'"),
        ("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
        ("experiment_id = '1'", "Invalid attribute key 'experiment_id'"),
        ("datasets.foo = 'x'", "Invalid dataset key 'foo'"),
        # comparators
        ("metrics.x LIKE '1'", "Invalid comparator 'LIKE' for metric 'x'"),
        ("metrics.x == 1", "Invalid comparator '=='"),
        ("metrics.x <> 1", "Invalid comparator '<>'"),
        ("params.x > 'a'", "Invalid comparator '>' for param 'x'"),
        ("params.x NOT LIKE 'a'", "expected a comparator, found 'NOT'"),
        ("params.x IS 'a'", "expected IS NULL or IS NOT NULL"),
        ("metrics.x IS NULL", "IS NULL / IS NOT NULL is only supported for ['param', 'tag']"),
        ("status IS NOT NULL", "not for attribute 'status'"),
        ("start_time LIKE '1'", "Invalid comparator 'LIKE' for attribute 'start_time'"),
        ("run_id > 'a'", "Invalid comparator '>' for attribute 'run_id'"),
        ("datasets.name > 'a'", "Invalid comparator '>' for dataset 'name'"),
        # value types
        ("metrics.x > '1'", "Expected numeric value type for metric. Found '1'"),
        ("metrics.x > NaN", "Expected numeric value type for metric. Found NaN"),
        ("metrics.x > 0x10", "malformed number"),
        ("metrics.x > 1_000", "malformed number"),
        ("start_time > '5'", "Expected numeric value type for numeric attribute: start_time"),
        ("params.x = 1", "Expected a quoted string value for param"),
        ("params.x = NULL", "Parameter value is either not quoted"),
        # IN lists
        (
            "artifact_uri IN ('a')",
            "Only ['run_id', 'run_name', 'status', 'user_id'] attributes support comparison with a list",
        ),
        ("start_time IN (1)", "Only ['run_id', 'run_name', 'status', 'user_id'] attributes support"),
        ("metrics.x IN ('a')", "expected a non-empty list of numbers, but found 'a'"),
        ("metrics.x IN ()", "expected a non-empty list of numbers, but got empty list"),
        ("params.x IN (1)", "expected a non-empty list of quoted string values, but found 1"),
        ("run_id IN ()", "expected a non-empty list of string values, but got empty list"),
        ("run_id IN (1, 2)", "expected a non-empty list of quoted string values, but found 1"),
        ("run_id IN ('a' 'b')", "expected ',' or ')' after a value"),  # differs: MLflow reads ('ab',)
        ("run_id IN ('a'", "reached the end of the filter"),
        ("run_id IN 'a'", "Expected a parenthesised list"),
    ],
)
def test_it_rejects_malformed_run_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_run_filter(filter_string)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------
# Runs: OR, NOT, parentheses and IN lists (beyond MLflow)

X = C("param", "x", "=", "a")
Y = C("param", "y", "=", "b")
Z = C("metric", "z", ">", 1.0)


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.x = 'a' OR params.y = 'b'", [AnyOf((X, Y))]),
        ("params.x = 'a' or params.y = 'b'", [AnyOf((X, Y))]),
        ("NOT params.x = 'a'", [Not(X)]),
        ("not params.x = 'a'", [Not(X)]),
        ("NOT NOT params.x = 'a'", [X]),
        ("(params.x = 'a')", [X]),
        ("((params.x = 'a'))", [X]),
        ("(params.x = 'a' AND params.y = 'b')", [X, Y]),  # a top-level group is just more ANDs
        ("params.x = 'a' AND (params.y = 'b')", [X, Y]),
        # AND binds tighter than OR, NOT tighter than AND, as in SQL
        ("params.x = 'a' OR params.y = 'b' AND metrics.z > 1", [AnyOf((X, AllOf((Y, Z))))]),
        ("params.x = 'a' AND params.y = 'b' OR metrics.z > 1", [AnyOf((AllOf((X, Y)), Z))]),
        ("(params.x = 'a' OR params.y = 'b') AND metrics.z > 1", [AnyOf((X, Y)), Z]),
        ("NOT params.x = 'a' AND params.y = 'b'", [Not(X), Y]),
        ("NOT (params.x = 'a' AND params.y = 'b')", [Not(AllOf((X, Y)))]),
        ("NOT (params.x = 'a' OR params.y = 'b')", [Not(AnyOf((X, Y)))]),
        # nested ORs and ANDs flatten
        ("params.x = 'a' OR (params.y = 'b' OR metrics.z > 1)", [AnyOf((X, Y, Z))]),
        ("(params.x = 'a' OR params.y = 'b') OR metrics.z > 1", [AnyOf((X, Y, Z))]),
        ("params.x = 'a' OR (params.y = 'b' AND (metrics.z > 1))", [AnyOf((X, AllOf((Y, Z))))]),
        # MLflow's dangling ANDs are still tolerated inside groups
        ("(params.x = 'a' AND) OR params.y = 'b'", [AnyOf((X, Y))]),
        # IN lists on metrics (numbers), params, tags and more attributes
        ("metrics.epoch IN (1, 2.5, -3)", [C("metric", "epoch", "IN", (1.0, 2.5, -3.0))]),
        ("metrics.epoch NOT IN (1,)", [C("metric", "epoch", "NOT IN", (1.0,))]),
        ("params.opt IN ('adam', 'sgd')", [C("param", "opt", "IN", ("adam", "sgd"))]),
        ("tags.team NOT IN ('ml')", [C("tag", "team", "NOT IN", ("ml",))]),
        ("status IN ('FAILED', 'KILLED')", [C("attribute", "status", "IN", ("FAILED", "KILLED"))]),
        ("run_name NOT IN ('a')", [C("attribute", "run_name", "NOT IN", ("a",))]),
        # words that are keywords elsewhere stay keys when quoted or dotted
        (
            "params.`OR` = 'a' OR params.NOT = 'b'",
            [AnyOf((C("param", "OR", "=", "a"), C("param", "NOT", "=", "b")))],
        ),
        # values that read like the language stay data
        ("params.x = 'a OR b'", [C("param", "x", "=", "a OR b")]),
    ],
)
def test_it_parses_boolean_run_filters(filter_string, expected):
    assert parse_run_filter(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("params.x = 'a' OR", "expected a condition after OR at position 15"),
        ("OR params.x = 'a'", "expected a condition before OR at position 0"),
        ("params.x = 'a' OR OR params.y = 'b'", "expected a condition after OR at position 15"),
        ("params.x = 'a' OR AND", "expected a condition after OR at position 15"),
        ("NOT", "expected a condition after NOT at position 0"),
        ("params.x = 'a' AND NOT", "expected a condition after NOT at position 19"),
        ("NOT OR params.x = 'a'", "expected a condition after NOT at position 0"),
        ("(params.x = 'a'", "the '(' at position 0 is never closed"),
        ("params.x = 'a' AND ((params.y = 'b')", "the '(' at position 19 is never closed"),
        ("params.x = 'a')", "unexpected ')' at position 14: no '(' opens it"),
        ("()", "the parentheses at position 0 hold no condition"),
        ("params.x = 'a' OR ()", "the parentheses at position 18 hold no condition"),
        ("(params.x = 'a') (params.y = 'b')", "'(' at position 17. Join conditions with AND or OR"),
        ("params.x = 'a' AND 1 = 1", "Invalid clause(s) in filter string: '1'"),
        ("params.x NOT 'a'", "expected a comparator, found 'NOT'"),
        ("params.x = OR", "Parameter value is either not quoted"),
        (
            "(" * (MAX_NESTING + 1) + "params.x = 'a'" + ")" * (MAX_NESTING + 1),
            f"nest more than {MAX_NESTING}",
        ),
        ("NOT " * (MAX_NESTING + 1) + "params.x = 'a'", f"nest more than {MAX_NESTING}"),
        ("(" * 100_00, f"nest more than {MAX_NESTING}"),
        (
            " OR ".join(["params.x = 'a'"] * (MAX_COMPARISONS + 1)),
            f"at most {MAX_COMPARISONS} are accepted",
        ),
        (
            " OR ".join(["(params.x = 'a' AND NOT params.y = 'b')"] * (MAX_COMPARISONS // 2 + 1)),
            f"at most {MAX_COMPARISONS} are accepted",
        ),
    ],
)
def test_it_rejects_malformed_boolean_run_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_run_filter(filter_string)
    assert message in caught.value.message


def test_it_accepts_as_many_comparisons_in_or_as_in_and():
    assert (
        len(parse_run_filter(" OR ".join(["params.x = 'a'"] * MAX_COMPARISONS))[0].conditions)
        == MAX_COMPARISONS
    )
    assert len(parse_run_filter("(" * MAX_NESTING + "params.x = 'a'" + ")" * MAX_NESTING)) == 1


@pytest.mark.parametrize(
    "parse", [parse_registered_model_filter, parse_model_version_filter, parse_logged_model_filter]
)
@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: 'OR'"),
        ("(name = 'a')", "Parentheses are only supported around IN lists"),
        ("name = 'a' AND (name = 'b')", "Invalid clause(s) in filter string: '('"),
        ("NOT name = 'a'", "Invalid clause(s) in filter string: 'NOT'"),
        ("name = 'a' name = 'b'", "Only comparisons joined by AND"),
    ],
)
def test_the_registry_and_logged_models_keep_mlflow_and_only_language(parse, filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse(filter_string)
    assert message in caught.value.message


@pytest.mark.parametrize("parse", ALL_FILTER_PARSERS)
@pytest.mark.parametrize(
    "filter_string",
    [
        "name = '1' OR 1=1 --",
        "name = '1' OR 1=1",
        "name = '1' OR '1'='1'",
        "name = '1'; DELETE FROM runs",
        "name = '1' /* comment */",
        "name = '1' UNION SELECT password FROM users",
        "name = ''' OR 1=1 --",
        "name = \\' OR 1=1 --",
        "name = (SELECT 1)",
    ],
)
def test_it_rejects_sql_injection_attempts(parse, filter_string):
    with pytest.raises(InvalidParameterValue):
        parse(filter_string)


def test_it_keeps_sql_text_inside_a_quoted_value_as_data():
    [comparison] = parse_run_filter("params.x = '1'' OR ''1''=''1'")
    assert comparison.value == "1' OR '1'='1"


def test_it_returns_immutable_results():
    [comparison] = parse_run_filter("metrics.acc > 1")
    [order_key] = parse_run_order_by(["metrics.acc"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        comparison.value = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        order_key.ascending = False  # type: ignore[misc]


def test_it_rejects_a_filter_that_is_not_a_string():
    with pytest.raises(InvalidParameterValue, match="expected a string"):
        parse_run_filter(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Runs: order_by


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, []),
        ([], []),
        (["metrics.acc"], [K("metric", "acc", True)]),
        (["metrics.acc DESC"], [K("metric", "acc", False)]),
        (["metric.acc asc"], [K("metric", "acc", True)]),
        (["params.lr Desc"], [K("param", "lr", False)]),
        (["tags.`mlflow.runName` DESC"], [K("tag", "mlflow.runName", False)]),
        (['metrics."val loss"'], [K("metric", "val loss", True)]),
        (["tags.mlflow.user"], [K("tag", "mlflow.user", True)]),
        (["start_time DESC"], [K("attribute", "start_time", False)]),
        (["Created"], [K("attribute", "start_time", True)]),
        (["attributes.run_name"], [K("attribute", "run_name", True)]),
        (
            ["attr.status", "run.end_time DESC"],
            [K("attribute", "status", True), K("attribute", "end_time", False)],
        ),
        (
            ["artifact_uri", "user_id", "run_id"],
            [K("attribute", k, True) for k in ("artifact_uri", "user_id", "run_id")],
        ),
        (["  metrics.acc   DESC "], [K("metric", "acc", False)]),  # differs: MLflow rejects the spaces
    ],
)
def test_it_parses_run_order_by(order_by, expected):
    assert parse_run_order_by(order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        ([""], "Invalid order_by clause ''. Could not be parsed."),
        (["metrics.acc DESC ASC"], "Could not be parsed"),
        (["metrics.acc, metrics.loss"], "Could not be parsed"),
        (["metrics.acc = 1"], "Could not be parsed"),
        (["'metrics.acc'"], "Could not be parsed"),
        (["metrics.acc DESCENDING"], "Invalid ordering key in order_by clause 'metrics.acc DESCENDING'"),
        (["metrics.acc 1"], "Invalid ordering key"),
        (["foo.x"], "Invalid entity type 'foo'"),
        (["lifecycle_stage"], "Invalid attribute key 'lifecycle_stage'"),
        (["`Run name`"], "Invalid attribute key 'Run name'"),
        (["datasets.name"], "Invalid order_by entity 'dataset'"),
        (["metrics.acc", "metrics.acc DESC"], "`order_by` contains duplicate fields"),
        (["created", "start_time"], "`order_by` contains duplicate fields"),
        ("metrics.acc", "expected a list of strings"),
        ([3], "expected a string"),
    ],
)
def test_it_rejects_malformed_run_order_by(order_by, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_run_order_by(order_by)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------
# Experiments


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'Default'", [C("attribute", "name", "=", "Default")]),
        ("attribute.name ILIKE '%exp%'", [C("attribute", "name", "ILIKE", "%exp%")]),
        ("experiment_id IN ('1', '2')", [C("attribute", "experiment_id", "IN", ("1", "2"))]),
        ("experiment_id != '1'", [C("attribute", "experiment_id", "!=", "1")]),
        ("creation_time > 1700000000000", [C("attribute", "creation_time", ">", 1700000000000)]),
        ("last_update_time <= 5", [C("attribute", "last_update_time", "<=", 5)]),
        ("tags.owner = 'ann'", [C("tag", "owner", "=", "ann")]),
        ("tag.`a.b` LIKE 'x%'", [C("tag", "a.b", "LIKE", "x%")]),
        ("tags.archived IS NULL", [C("tag", "archived", "IS NULL", None)]),
        ("name IN ('a', 'b')", [C("attribute", "name", "IN", ("a", "b"))]),
        ("tags.team NOT IN ('ml')", [C("tag", "team", "NOT IN", ("ml",))]),
        (
            "name LIKE 'a%' OR NOT tags.team = 'ml'",
            [AnyOf((C("attribute", "name", "LIKE", "a%"), Not(C("tag", "team", "=", "ml"))))],
        ),
    ],
)
def test_it_parses_experiment_filters(filter_string, expected):
    assert parse_experiment_filter(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("attributes.name = 'a'", "Invalid entity type 'attributes'"),
        ("params.x = 'a'", "Invalid entity type 'params'"),
        ("metrics.x > 1", "Invalid entity type 'metrics'"),
        ("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'"),
        ("creation_time IN (1)", "Only ['experiment_id', 'name'] attributes support comparison with a list"),
        ("name > 'a'", "Invalid comparator '>' for attribute 'name'"),
        ("experiment_id > '1'", "Invalid comparator '>' for attribute 'experiment_id'"),
        ("name IS NULL", "IS NULL / IS NOT NULL is only supported for ['tag']"),
        ("creation_time > '1'", "Expected numeric value type for numeric attribute: creation_time"),
        ("creation_time > 1.5", "Invalid value for numeric attribute 'creation_time': 1.5"),
        ("tags.x IN (1)", "expected a non-empty list of quoted string values, but found 1"),
    ],
)
def test_it_rejects_malformed_experiment_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_experiment_filter(filter_string)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], [K("attribute", "name", True)]),
        (["experiment_id DESC"], [K("attribute", "experiment_id", False)]),
        (
            ["creation_time desc", "last_update_time"],
            [K("attribute", "creation_time", False), K("attribute", "last_update_time", True)],
        ),
        (["attribute.name ASC"], [K("attribute", "name", True)]),
    ],
)
def test_it_parses_experiment_order_by(order_by, expected):
    assert parse_experiment_order_by(order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        (["tags.owner"], "Invalid order_by entity 'tag'"),
        (["lifecycle_stage"], "Invalid attribute key 'lifecycle_stage'"),
        (["name DOWN"], "Invalid ordering key"),
    ],
)
def test_it_rejects_malformed_experiment_order_by(order_by, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_experiment_order_by(order_by)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------
# Registered models and model versions


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'clf'", [C("attribute", "name", "=", "clf")]),
        ("name LIKE 'clf%'", [C("attribute", "name", "LIKE", "clf%")]),
        ("name NOT IN ('a', 'b')", [C("attribute", "name", "NOT IN", ("a", "b"))]),
        (
            # what the MLflow 3.x client appends to every registered model search
            "name ILIKE '%x%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
            [C("attribute", "name", "ILIKE", "%x%"), C("tag", "mlflow.prompt.is_prompt", "!=", "true")],
        ),
        (
            # ... even to a blank filter
            "   AND tag.`mlflow.prompt.is_prompt` != 'true'",
            [C("tag", "mlflow.prompt.is_prompt", "!=", "true")],
        ),
        ("tags.stage = 'prod'", [C("tag", "stage", "=", "prod")]),
    ],
)
def test_it_parses_registered_model_filters(filter_string, expected):
    assert parse_registered_model_filter(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("run_id = 'a'", "Invalid attribute key 'run_id'"),
        ("attributes.name = 'a'", "Invalid entity type 'attributes'"),
        ("name > 'a'", "Invalid comparator '>' for attribute 'name'"),
        ("name = 1", "Expected a quoted string value for attribute"),
        ("tags.x IS NULL", "IS NULL / IS NOT NULL is not supported in this search"),  # MLflow: a 500
        ("tags.x IN ('a')", "Invalid comparator 'IN' for tag 'x'"),
    ],
)
def test_it_rejects_malformed_registered_model_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_registered_model_filter(filter_string)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], [K("attribute", "name", True)]),
        (["name DESC"], [K("attribute", "name", False)]),
        (["timestamp DESC"], [K("attribute", "last_updated_timestamp", False)]),  # as MLflow's SQL store
        (
            ["last_updated_timestamp", "creation_timestamp DESC"],
            [K("attribute", "last_updated_timestamp", True), K("attribute", "creation_timestamp", False)],
        ),
    ],
)
def test_it_parses_registered_model_order_by(order_by, expected):
    assert parse_registered_model_order_by(order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        (["version_number"], "Invalid attribute key 'version_number'"),
        (["tags.x"], "Invalid order_by entity 'tag'"),
        (["timestamp", "last_updated_timestamp"], "`order_by` contains duplicate fields"),
    ],
)
def test_it_rejects_malformed_registered_model_order_by(order_by, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_registered_model_order_by(order_by)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'clf'", [C("attribute", "name", "=", "clf")]),
        ("name IN ('a', 'b')", [C("attribute", "name", "IN", ("a", "b"))]),
        ("version_number > 2", [C("attribute", "version_number", ">", 2)]),
        ("version_number = '3'", [C("attribute", "version_number", "=", 3)]),
        ("run_id IN ('r1', 'r2')", [C("attribute", "run_id", "IN", ("r1", "r2"))]),
        ("run_id NOT IN ('r1')", [C("attribute", "run_id", "NOT IN", ("r1",))]),
        ("source_path LIKE 's3://%'", [C("attribute", "source_path", "LIKE", "s3://%")]),
        ("tags.`validation.status` = 'ok'", [C("tag", "validation.status", "=", "ok")]),
    ],
)
def test_it_parses_model_version_filters(filter_string, expected):
    assert parse_model_version_filter(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("version_number IN (1, 2)", "Only ['name', 'run_id'] attributes support comparison with a list"),
        ("version_number LIKE '1'", "Invalid comparator 'LIKE' for attribute 'version_number'"),
        ("version_number = 1.5", "Invalid value for numeric attribute 'version_number': 1.5"),
        ("version_number = 'one'", "Invalid value for numeric attribute 'version_number': 'one'"),
        ("source_path IN ('x')", "Only ['name', 'run_id'] attributes support comparison with a list"),
        ("creation_timestamp > 1", "Invalid attribute key 'creation_timestamp'"),
        ("run_id = 1", "Expected a quoted string value for attribute"),
        ("tags.x IS NOT NULL", "IS NULL / IS NOT NULL is not supported in this search"),
    ],
)
def test_it_rejects_malformed_model_version_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_model_version_filter(filter_string)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["version_number DESC"], [K("attribute", "version_number", False)]),
        (
            ["name", "creation_timestamp"],
            [K("attribute", "name", True), K("attribute", "creation_timestamp", True)],
        ),
        (["attribute.last_updated_timestamp DESC"], [K("attribute", "last_updated_timestamp", False)]),
    ],
)
def test_it_parses_model_version_order_by(order_by, expected):
    assert parse_model_version_order_by(order_by) == expected


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        (["run_id"], "Invalid attribute key 'run_id'"),
        (["timestamp"], "Invalid attribute key 'timestamp'"),
        (["tags.name"], "Invalid order_by entity 'tag'"),
    ],
)
def test_it_rejects_malformed_model_version_order_by(order_by, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_model_version_order_by(order_by)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------
# Logged models (MLflow 3)


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'm'", [C("attribute", "name", "=", "m")]),
        ("attributes.status = 'READY'", [C("attribute", "status", "=", "READY")]),
        ("model_id IN ('m-1', 'm-2')", [C("attribute", "model_id", "IN", ("m-1", "m-2"))]),
        ("source_run_id = 'r'", [C("attribute", "source_run_id", "=", "r")]),
        ("model_type LIKE 'sk%'", [C("attribute", "model_type", "LIKE", "sk%")]),
        ("creation_time > 5", [C("attribute", "creation_timestamp", ">", 5)]),
        # differs from MLflow's SQL store, which knows only the plural prefixes and creation_time
        (
            "metric.acc > 1 AND attribute.last_updated_time > 5",
            [C("metric", "acc", ">", 1.0), C("attribute", "last_updated_timestamp", ">", 5)],
        ),
        ("creation_timestamp <= 5", [C("attribute", "creation_timestamp", "<=", 5)]),
        ("last_updated_timestamp != 5", [C("attribute", "last_updated_timestamp", "!=", 5)]),
        ("metrics.accuracy > 0.9", [C("metric", "accuracy", ">", 0.9)]),
        # MLflow's own documented example: an unquoted number is a string for params
        (
            "metrics.loss > 0.1 AND params.lr = 0.01",
            [C("metric", "loss", ">", 0.1), C("param", "lr", "=", "0.01")],
        ),
        ("params.optimizer IN ('adam', 'sgd')", [C("param", "optimizer", "IN", ("adam", "sgd"))]),
        ("tags.`mlflow.source` != 'x'", [C("tag", "mlflow.source", "!=", "x")]),
    ],
)
def test_it_parses_logged_model_filters(filter_string, expected):
    assert parse_logged_model_filter(filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("datasets.name = 'a'", "Invalid entity type 'datasets'"),
        (
            "experiment_id = '1'",
            "Invalid attribute key 'experiment_id'",
        ),  # MLflow's SQL store allows any column
        ("metrics.x IN (1)", "Invalid comparator 'IN' for metric 'x'"),
        ("metrics.x > '0.9'", "Expected numeric value type for metric"),
        ("tags.x IS NULL", "IS NULL / IS NOT NULL is not supported in this search"),
        ("name = m", "Parameter value is either not quoted"),  # differs: MLflow's SQL store reads "m"
        ("creation_timestamp LIKE '1'", "Invalid comparator 'LIKE' for attribute 'creation_timestamp'"),
    ],
)
def test_it_rejects_malformed_logged_model_filters(filter_string, message):
    with pytest.raises(InvalidParameterValue) as caught:
        parse_logged_model_filter(filter_string)
    assert message in caught.value.message


# ---------------------------------------------------------------------------------------------
# Module hygiene


def test_it_imports_without_django_or_mlflow():
    script = (
        "import sys, tracking.search.grammar\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "assert not loaded & {'django', 'mlflow', 'sqlparse'}, loaded & {'django', 'mlflow', 'sqlparse'}\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)
