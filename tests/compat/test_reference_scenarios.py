"""Differential test: the reference `mlflow server`'s recorded answers, replayed against ours.

`reference/mlflow-3.18.0.json` holds what MLflow 3.18.0 answered to 661 raw requests (many of
them bad input). Every step must give the same HTTP status and error code, and the same
body after normalisation, except where we differ on purpose; each such difference is listed
below with its reason, so the list is the documentation of where and why we are not MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .reference.replay import run_scenarios
from .reference.scenarios import SCENARIOS

RECORDED = json.loads((Path(__file__).parent / "reference" / "mlflow-3.18.0.json").read_text())

STRICTER = "we refuse a value of the wrong type that MLflow silently coerces or half-parses"
BEYOND = "our search language has OR, NOT, parentheses and more IN lists, which MLflow refuses"
DELIBERATE = {
    ("meta_and_routing", "server-info 3.0"): "we report the capabilities of our own server",
    (
        "experiments_lifecycle",
        "rename deleted experiment",
    ): "MLflow answers 500 INVALID_STATE; a 400 says what is wrong",
    (
        "experiments_search_bad_input",
        "search without max_results",
    ): "max_results defaults to 1000 instead of 400",
    (
        "experiments_search_bad_input",
        "search GET without max_results",
    ): "max_results defaults to 1000 instead of 400",
    ("experiments_search_bad_input", "view_type garbage"): STRICTER,
    ("experiments_search_bad_input", "GET view_type garbage"): STRICTER,
    (
        "experiments_bad_input",
        "rename onto taken name",
    ): "RESOURCE_ALREADY_EXISTS instead of SQL text in BAD_REQUEST",
    (
        "experiments_bad_input",
        "experiment state after bad input (tags)",
    ): "we also check the tags given at creation",
    (
        "request_bodies",
        "malformed JSON body for runs/create",
    ): "a missing experiment_id is named, not a SQL error",
    ("request_bodies", "body is a JSON array"): "MLflow crashes with a 500 HTML page",
    ("runs_lifecycle", "update status garbage"): STRICTER,
    (
        "runs_lifecycle",
        "delete with run_uuid only",
    ): "DeleteRun has no run_uuid field; we say run_id is missing",
    ("runs_create_bad_input", "create run start_time negative"): "negative timestamps are refused",
    ("runs_create_bad_input", "create run tags not a list"): STRICTER,
    (
        "runs_create_bad_input",
        "create run tag missing key",
    ): "tags at creation are checked like any other tags",
    (
        "runs_create_bad_input",
        "create run tag value 8001 (truncated?)",
    ): "tags at creation are truncated as set-tag",
    ("runs_create_bad_input", "create run tag key 251"): "tags at creation are checked like any other tags",
    ("runs_create_bad_input", "create run user_id int"): STRICTER,
    ("runs_create_bad_input", "create run run_name 1000 chars"): "run names are limited to 250 characters",
    (
        "runs_create_bad_input",
        "create run missing experiment_id (body {})",
    ): "a named missing field, not SQL text",
    (
        "runs_create_bad_input",
        "create run status field ignored?",
    ): "auto-captured ids are numbered differently",
    ("log_metric", "metric value bool"): STRICTER,
    ("log_metric", "metric timestamp float"): STRICTER,
    ("log_metric", "metric step 1.5"): STRICTER,
    ("log_metric", "get run with all metrics"): "follows from the refused values above",
    (
        "log_batch",
        "batch partly invalid metric value",
    ): "MLflow writes half of such a batch; we write none of it",
    (
        "log_batch",
        "get after partly invalid batches (nothing written?)",
    ): "follows: nothing of a bad batch is written",
    ("log_batch", "final state of batch run"): "follows: nothing of a bad batch is written",
    (
        "log_inputs",
        "log-inputs dataset missing digest",
    ): "Dataset fields the proto marks required are required",
    (
        "log_inputs",
        "log-inputs entry missing dataset",
    ): "Dataset fields the proto marks required are required",
    ("log_inputs", "final inputs state"): "follows from the refused inputs above",
    ("metric_history", "history max_results=abc"): STRICTER,
    ("search_runs_bad_input", "run_view_type garbage"): STRICTER,
    ("search_runs_bad_input", "filter OR"): BEYOND,
    ("search_runs_bad_input", "filter parentheses"): BEYOND,
    ("search_runs_bad_input", "filter IN on param"): BEYOND,
    ("search_runs_bad_input", "filter status IN"): BEYOND,
    ("experiments_search_bad_input", "filter with OR"): BEYOND,
    ("search_runs_bad_input", "experiment_ids with ints"): STRICTER,
    ("genai_datasets", "upsert records not json"): "MLflow answers 500; a 400 says what is wrong",
    # Set-up of the review queues' scenario: a trace's answer names the server's own artifact folder.
    ("genai_review_queues", "start trace trace1"): "set-up: the artifact location is the server's own",
    ("genai_review_queues", "start trace trace2"): "set-up: the artifact location is the server's own",
    ("genai_review_queues", "start trace foreign"): "set-up: the artifact location is the server's own",
}
# MLflow's SQL store gives infinities back as the largest double; we give them back as they were.
_LARGEST_DOUBLE = 1.7976931348623157e308


def comparable(body):
    """Bodies without what is opaque or deliberately spelled otherwise."""
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            if key == "next_page_token":
                value = "<token>"
            elif key == "outputs" and value == {}:
                continue
            out[key] = comparable(value)
        return out
    if isinstance(body, list):
        return [comparable(item) for item in body]
    if body == _LARGEST_DOUBLE or body == "Infinity":
        return "+inf"
    if body == -_LARGEST_DOUBLE or body == "-Infinity":
        return "-inf"
    return body


def error_code(record: dict) -> str | None:
    return record["body"].get("error_code") if isinstance(record["body"], dict) else None


@pytest.mark.parametrize("scenario", [s["name"] for s in SCENARIOS])
def test_we_answer_as_the_reference_server(tracking_uri, scenario):
    [steps] = [s["steps"] for s in SCENARIOS if s["name"] == scenario]
    ours = run_scenarios(tracking_uri, [{"name": scenario, "steps": steps}])[scenario]
    problems = []
    for theirs, mine in zip(RECORDED[scenario], ours, strict=True):
        if (scenario, theirs["name"]) in DELIBERATE:
            continue
        if theirs["status"] != mine["status"]:
            problems.append(
                f"{theirs['name']}: status {mine['status']}, reference {theirs['status']}: {mine['body']}"
            )
        elif isinstance(theirs["body"], dict) and error_code(theirs) != error_code(mine):
            problems.append(f"{theirs['name']}: error {error_code(mine)}, reference {error_code(theirs)}")
        elif not isinstance(theirs["body"], dict):
            # The reference answers unknown routes with Flask's HTML; we answer MLflow's JSON.
            assert error_code(mine) == "ENDPOINT_NOT_FOUND" or mine["status"] < 400, theirs["name"]
        elif theirs["status"] == 200 and comparable(theirs["body"]) != comparable(mine["body"]):
            problems.append(
                f"{theirs['name']}: body\n  ours      {mine['body']}\n  reference {theirs['body']}"
            )
    assert not problems, "\n".join(problems)


def test_every_deliberate_difference_names_a_recorded_step():
    recorded = {(scenario, step["name"]) for scenario, steps in RECORDED.items() for step in steps}
    assert set(DELIBERATE) <= recorded
