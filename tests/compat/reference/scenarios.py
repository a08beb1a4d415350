"""Raw REST scenarios for the MLflow tracking API (plain data, no mlflow import).

``SCENARIOS`` is a list of {"name": str, "steps": [step, ...]}.  The step format is
documented in replay.py.  Every scenario builds its own state (experiments named with the
per-scenario "{uniq}" suffix) so scenarios are independent of each other and of whatever
else lives on the server.  Small helper functions below only build dicts.
"""

from __future__ import annotations

API = "/api/2.0/mlflow"
TS = 1700000000000  # fixed metric timestamp (ms) so that times can be compared


# --------------------------------------------------------------------------- helpers
def step(
    name,
    method,
    path,
    *,
    query=None,
    json=None,
    raw_body=None,
    headers=None,
    capture=None,
    keep_times=None,
    **extra,
):
    s = {"name": name, "method": method, "path": path if path.startswith("/") else f"{API}/{path}"}
    if query is not None:
        s["query"] = query
    if json is not None:
        s["json"] = json
    if raw_body is not None:
        s["raw_body"] = raw_body
    if headers is not None:
        s["headers"] = headers
    if capture:
        s["capture"] = capture
    if keep_times:
        s["keep_times"] = keep_times
    s.update(extra)
    return s


def get(name, path, query=None, **kw):
    return step(name, "GET", path, query=query, **kw)


def post(name, path, body=None, **kw):
    return step(name, "POST", path, json={} if body is None else body, **kw)


def create_exp(var="exp_id", name="exp-{uniq}", **body):
    return post(
        f"create experiment {var}",
        "experiments/create",
        {"name": name, **body},
        capture={var: "experiment_id"},
    )


def create_run(var="run_id", exp="{exp_id}", run_name=None, **body):
    b = {"experiment_id": exp, **body}
    if run_name is not None:
        b["run_name"] = run_name
    return post(
        f"create run {var}",
        "runs/create",
        b,
        capture={var: "run.info.run_id"},
        keep_times=["start_time"] if "start_time" in body else None,
    )


def get_run(name, var="run_id", keep_times=None):
    return get(name, "runs/get", {"run_id": f"{{{var}}}"}, keep_times=keep_times)


def get_exp(name, var="exp_id"):
    return get(name, "experiments/get", {"experiment_id": f"{{{var}}}"})


def metric(key, value, step=0, ts=TS):
    return {"key": key, "value": value, "timestamp": ts, "step": step}


def log_metric(name, key, value, var="run_id", **extra):
    body = {"run_id": f"{{{var}}}", "key": key, "value": value}
    if "timestamp" not in extra:
        body["timestamp"] = TS
    body.update(extra)
    body = {k: v for k, v in body.items() if v is not _OMIT}
    return post(name, "runs/log-metric", body)


_OMIT = object()
KEEP_METRIC_TS = ["timestamp"]  # keep metric timestamps (we send fixed ones), mask run times

# --------------------------------------------------------------------------- scenarios
SCENARIOS = []


def scenario(name, steps):
    SCENARIOS.append({"name": name, "steps": steps})


# ---- server meta, unknown routes, wrong methods ----------------------------------------
scenario(
    "meta_and_routing",
    [
        get("health", "/health"),
        get("version", "/version"),
        get("server-info 3.0", "/api/3.0/mlflow/server-info"),
        get("server-info under 2.0 (not a route?)", "/api/2.0/mlflow/server-info"),
        get("unknown endpoint GET", "/api/2.0/mlflow/does-not-exist"),
        post("unknown endpoint POST", "/api/2.0/mlflow/does-not-exist", {"a": 1}),
        post("unknown runs sub-endpoint POST", "runs/frobnicate", {"run_id": "x"}),
        get("bare api prefix", "/api/2.0/mlflow/"),
        get("experiments without action", "/api/2.0/mlflow/experiments"),
        get("trailing slash on known route", "/api/2.0/mlflow/experiments/get/", {"experiment_id": "0"}),
        get("wrong api version 2.1", "/api/2.1/mlflow/experiments/get", {"experiment_id": "0"}),
        get(
            "ajax-api mirror get default experiment",
            "/ajax-api/2.0/mlflow/experiments/get",
            {"experiment_id": "0"},
        ),
        get("wrong method GET on POST route experiments/create", "experiments/create", {"name": "x"}),
        post("wrong method POST on GET route experiments/get", "experiments/get", {"experiment_id": "0"}),
        step("wrong method DELETE on runs/get", "DELETE", "runs/get", json={"run_id": "x"}),
        step("wrong method PATCH on runs/update", "PATCH", "runs/update", json={"run_id": "x"}),
        step(
            "wrong method PATCH on experiments/create",
            "PATCH",
            "experiments/create",
            json={"name": "never-{uniq}"},
        ),
        get("runs/search via GET (POST only)", "runs/search", {"experiment_ids": "0"}),
        post(
            "metrics/get-history via POST (GET only)",
            "metrics/get-history",
            {"run_id": "x", "metric_key": "m"},
        ),
    ],
)

# ---- experiments: happy path ------------------------------------------------------------
scenario(
    "experiments_lifecycle",
    [
        get("get default experiment 0", "experiments/get", {"experiment_id": "0"}),
        get("get-by-name Default", "experiments/get-by-name", {"experiment_name": "Default"}),
        create_exp(
            "exp_id", "exp-{uniq}", tags=[{"key": "team", "value": "ml"}, {"key": "a.b", "value": ""}]
        ),
        get_exp("get created experiment"),
        get("get-by-name", "experiments/get-by-name", {"experiment_name": "exp-{uniq}"}),
        post("rename", "experiments/update", {"experiment_id": "{exp_id}", "new_name": "renamed-{uniq}"}),
        get("get-by-name old name -> 404", "experiments/get-by-name", {"experiment_name": "exp-{uniq}"}),
        get("get-by-name new name", "experiments/get-by-name", {"experiment_name": "renamed-{uniq}"}),
        post(
            "rename to the same name",
            "experiments/update",
            {"experiment_id": "{exp_id}", "new_name": "renamed-{uniq}"},
        ),
        post("update without new_name", "experiments/update", {"experiment_id": "{exp_id}"}),
        post(
            "set experiment tag",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k1", "value": "v1"},
        ),
        post(
            "overwrite experiment tag",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k1", "value": "v2"},
        ),
        post(
            "set experiment tag empty value",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "empty", "value": ""},
        ),
        post(
            "set experiment tag value 20000 chars (limit)",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "long", "value": "v" * 20000},
        ),
        get_exp("get with tags"),
        post(
            "delete experiment tag",
            "experiments/delete-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k1"},
        ),
        post(
            "delete experiment tag long",
            "experiments/delete-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "long"},
        ),
        get_exp("get after tag delete"),
        post("delete experiment", "experiments/delete", {"experiment_id": "{exp_id}"}),
        get_exp("get deleted experiment"),
        get(
            "get-by-name of deleted experiment",
            "experiments/get-by-name",
            {"experiment_name": "renamed-{uniq}"},
        ),
        post(
            "set tag on deleted experiment",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k2", "value": "v"},
        ),
        post(
            "rename deleted experiment",
            "experiments/update",
            {"experiment_id": "{exp_id}", "new_name": "renamed2-{uniq}"},
        ),
        post("restore experiment", "experiments/restore", {"experiment_id": "{exp_id}"}),
        get_exp("get restored experiment"),
        post("restore an active experiment", "experiments/restore", {"experiment_id": "{exp_id}"}),
        create_exp("exp2", "withloc-{uniq}", artifact_location="s3://some-bucket/path-{uniq}"),
        get_exp("get experiment with explicit artifact_location", "exp2"),
        create_exp("exp3", "emptytags-{uniq}", tags=[]),
        get_exp("get experiment created with empty tags list", "exp3"),
    ],
)

# ---- experiments: search ----------------------------------------------------------------
scenario(
    "experiments_search",
    [
        create_exp("exp_a", "search-a-{uniq}", tags=[{"key": "team", "value": "alpha"}]),
        create_exp("exp_b", "search-b-{uniq}", tags=[{"key": "team", "value": "beta"}]),
        create_exp("exp_c", "search-c-{uniq}", tags=[{"key": "team", "value": "alpha"}]),
        create_exp("exp_d", "search-d-{uniq}"),
        post("delete d", "experiments/delete", {"experiment_id": "{exp_d}"}),
        post(
            "search POST name LIKE, order name ASC",
            "experiments/search",
            {"max_results": 10, "filter": "name LIKE 'search-%{uniq}'", "order_by": ["name ASC"]},
        ),
        get(
            "search GET name LIKE, order name DESC",
            "experiments/search",
            {"max_results": "10", "filter": "name LIKE 'search-%{uniq}'", "order_by": "name DESC"},
        ),
        get(
            "search GET repeated order_by",
            "experiments/search",
            [
                ("max_results", "10"),
                ("filter", "name LIKE 'search-%{uniq}'"),
                ("order_by", "name DESC"),
                ("order_by", "experiment_id ASC"),
            ],
        ),
        post(
            "search order experiment_id DESC",
            "experiments/search",
            {"max_results": 10, "filter": "name LIKE '%{uniq}'", "order_by": ["experiment_id DESC"]},
        ),
        post(
            "search default order", "experiments/search", {"max_results": 10, "filter": "name LIKE '%{uniq}'"}
        ),
        post(
            "search filter tag",
            "experiments/search",
            {
                "max_results": 10,
                "filter": "name LIKE '%{uniq}' AND tags.team = 'alpha'",
                "order_by": ["name"],
            },
        ),
        post(
            "search filter tag LIKE",
            "experiments/search",
            {"max_results": 10, "filter": "name LIKE '%{uniq}' AND tags.team LIKE 'b%'"},
        ),
        post(
            "search filter attribute.name =",
            "experiments/search",
            {"max_results": 10, "filter": "attribute.name = 'search-b-{uniq}'"},
        ),
        post(
            "search filter name ILIKE upper",
            "experiments/search",
            {"max_results": 10, "filter": "name ILIKE 'SEARCH-C-{uniq}'"},
        ),
        post(
            "search filter name !=",
            "experiments/search",
            {
                "max_results": 10,
                "filter": "name LIKE '%{uniq}' AND name != 'search-a-{uniq}'",
                "order_by": ["name ASC"],
            },
        ),
        post(
            "search view_type DELETED_ONLY",
            "experiments/search",
            {"max_results": 10, "filter": "name LIKE '%{uniq}'", "view_type": "DELETED_ONLY"},
        ),
        post(
            "search view_type ALL",
            "experiments/search",
            {
                "max_results": 10,
                "filter": "name LIKE '%{uniq}'",
                "view_type": "ALL",
                "order_by": ["name ASC"],
            },
        ),
        get(
            "search GET view_type ALL",
            "experiments/search",
            {
                "max_results": "10",
                "filter": "name LIKE '%{uniq}'",
                "view_type": "ALL",
                "order_by": "name ASC",
            },
        ),
        post(
            "search view_type as number 2 (DELETED_ONLY)",
            "experiments/search",
            {"max_results": 10, "filter": "name LIKE '%{uniq}'", "view_type": 2},
        ),
        post(
            "search page 1 (max_results 2)",
            "experiments/search",
            {"max_results": 2, "filter": "name LIKE '%{uniq}'", "order_by": ["name ASC"]},
            capture={"tok": "next_page_token"},
        ),
        post(
            "search page 2 with token",
            "experiments/search",
            {
                "max_results": 2,
                "filter": "name LIKE '%{uniq}'",
                "order_by": ["name ASC"],
                "page_token": "{tok}",
            },
        ),
        get(
            "search page 2 GET with token",
            "experiments/search",
            {
                "max_results": "2",
                "filter": "name LIKE '%{uniq}'",
                "order_by": "name ASC",
                "page_token": "{tok}",
            },
        ),
        post(
            "search no hits", "experiments/search", {"max_results": 10, "filter": "name = 'nothing-{uniq}'"}
        ),
        post(
            "search order by creation_time ASC, name DESC",
            "experiments/search",
            {
                "max_results": 10,
                "filter": "name LIKE '%{uniq}'",
                "order_by": ["creation_time ASC", "name DESC"],
            },
        ),
        post(
            "search unknown field ignored",
            "experiments/search",
            {"max_results": 10, "filter": "name = 'search-a-{uniq}'", "bogus": True},
        ),
    ],
)

scenario(
    "experiments_search_bad_input",
    [
        create_exp("exp_id", "sbad-{uniq}"),
        post("search without max_results", "experiments/search", {"filter": "name = 'sbad-{uniq}'"}),
        get("search GET without max_results", "experiments/search", {"filter": "name = 'sbad-{uniq}'"}),
        post("max_results 0", "experiments/search", {"max_results": 0}),
        post("max_results -1", "experiments/search", {"max_results": -1}),
        post("max_results 50001", "experiments/search", {"max_results": 50001}),
        post(
            "max_results 50000 ok",
            "experiments/search",
            {"max_results": 50000, "filter": "name = 'sbad-{uniq}'"},
        ),
        post(
            "max_results string '5'",
            "experiments/search",
            {"max_results": "5", "filter": "name = 'sbad-{uniq}'"},
        ),
        get("GET max_results abc", "experiments/search", {"max_results": "abc"}),
        post("garbage page_token", "experiments/search", {"max_results": 10, "page_token": "garbage!!"}),
        post(
            "base64 but not json page_token",
            "experiments/search",
            {"max_results": 10, "page_token": "aGVsbG8="},
        ),
        post(
            "filter with OR", "experiments/search", {"max_results": 10, "filter": "name = 'a' OR name = 'b'"}
        ),
        post("filter unquoted string", "experiments/search", {"max_results": 10, "filter": "name = abc"}),
        post(
            "filter unknown attribute",
            "experiments/search",
            {"max_results": 10, "filter": "attribute.foo = 'x'"},
        ),
        post("filter on metrics", "experiments/search", {"max_results": 10, "filter": "metrics.x > 1"}),
        post("filter garbage", "experiments/search", {"max_results": 10, "filter": "this is not sql"}),
        post("bad order_by column", "experiments/search", {"max_results": 10, "order_by": ["foo"]}),
        post(
            "bad order_by direction", "experiments/search", {"max_results": 10, "order_by": ["name SIDEWAYS"]}
        ),
        post("order_by not a list", "experiments/search", {"max_results": 10, "order_by": "name"}),
        post(
            "view_type garbage",
            "experiments/search",
            {"max_results": 10, "filter": "name = 'sbad-{uniq}'", "view_type": "SOMETIMES"},
        ),
        get(
            "GET view_type garbage",
            "experiments/search",
            {"max_results": "10", "filter": "name = 'sbad-{uniq}'", "view_type": "SOMETIMES"},
        ),
        post("filter not a string", "experiments/search", {"max_results": 10, "filter": 5}),
    ],
)

scenario(
    "experiments_bad_input",
    [
        create_exp("exp_id", "dup-{uniq}"),
        post("create missing name", "experiments/create", {}),
        post("create empty name", "experiments/create", {"name": ""}),
        post("create name 123 (int)", "experiments/create", {"name": 123}),
        post("create name null", "experiments/create", {"name": None}),
        post("create name list", "experiments/create", {"name": ["a"]}),
        post("create name 501 chars", "experiments/create", {"name": "n" * 491 + "{uniq}"}),
        post("create name exactly 500 chars", "experiments/create", {"name": "n" * 490 + "{uniq}"}),
        post("create duplicate name", "experiments/create", {"name": "dup-{uniq}"}),
        post(
            "create with tags not a list",
            "experiments/create",
            {"name": "tagsbad-{uniq}", "tags": {"k": "v"}},
        ),
        post(
            "create with tag missing key",
            "experiments/create",
            {"name": "tagnokey-{uniq}", "tags": [{"value": "v"}]},
        ),
        post(
            "create with tag value 20001",
            "experiments/create",
            {"name": "tagtoolong-{uniq}", "tags": [{"key": "k", "value": "v" * 20001}]},
        ),
        post(
            "create artifact_location int",
            "experiments/create",
            {"name": "locint-{uniq}", "artifact_location": 5},
        ),
        post(
            "create with unknown field",
            "experiments/create",
            {"name": "unknownfield-{uniq}", "frobnicate": 1},
            capture={"exp_unk": "experiment_id"},
        ),
        create_exp("exp_del", "deleted-{uniq}"),
        post("delete it", "experiments/delete", {"experiment_id": "{exp_del}"}),
        post("create name taken by deleted experiment", "experiments/create", {"name": "deleted-{uniq}"}),
        post("delete already deleted experiment", "experiments/delete", {"experiment_id": "{exp_del}"}),
        post("delete unknown experiment", "experiments/delete", {"experiment_id": "999999"}),
        post("delete experiment id abc", "experiments/delete", {"experiment_id": "abc"}),
        post("delete experiment id as int", "experiments/delete", {"experiment_id": 999999}),
        post("delete missing experiment_id", "experiments/delete", {}),
        post("restore unknown experiment", "experiments/restore", {"experiment_id": "999999"}),
        post("restore missing id", "experiments/restore", {}),
        get("get missing experiment_id", "experiments/get"),
        get("get experiment 999999", "experiments/get", {"experiment_id": "999999"}),
        get("get experiment abc", "experiments/get", {"experiment_id": "abc"}),
        get("get experiment empty id", "experiments/get", {"experiment_id": ""}),
        get("get experiment -1", "experiments/get", {"experiment_id": "-1"}),
        get("get-by-name missing param", "experiments/get-by-name"),
        get("get-by-name unknown", "experiments/get-by-name", {"experiment_name": "nope-{uniq}"}),
        get("get-by-name empty", "experiments/get-by-name", {"experiment_name": ""}),
        post(
            "rename onto taken name",
            "experiments/update",
            {"experiment_id": "{exp_id}", "new_name": "deleted-{uniq}"},
        ),
        post("rename to empty name", "experiments/update", {"experiment_id": "{exp_id}", "new_name": ""}),
        post(
            "rename to 501 chars",
            "experiments/update",
            {"experiment_id": "{exp_id}", "new_name": "r" * 491 + "{uniq}"},
        ),
        post("rename new_name int", "experiments/update", {"experiment_id": "{exp_id}", "new_name": 5}),
        post(
            "rename unknown experiment",
            "experiments/update",
            {"experiment_id": "999999", "new_name": "x-{uniq}"},
        ),
        post("rename missing experiment_id", "experiments/update", {"new_name": "x-{uniq}"}),
        post(
            "set tag key 251",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k" * 251, "value": "v"},
        ),
        post(
            "set tag key 250 ok",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k" * 250, "value": "v"},
        ),
        post(
            "set tag value 20001",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "big", "value": "v" * 20001},
        ),
        post(
            "set tag empty key",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "", "value": "v"},
        ),
        post(
            "set tag missing value",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k"},
        ),
        post(
            "set tag value int",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "k", "value": 5},
        ),
        post(
            "set tag unknown experiment",
            "experiments/set-experiment-tag",
            {"experiment_id": "999999", "key": "k", "value": "v"},
        ),
        post(
            "set tag key with path traversal",
            "experiments/set-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "../x", "value": "v"},
        ),
        post(
            "delete unknown experiment tag",
            "experiments/delete-experiment-tag",
            {"experiment_id": "{exp_id}", "key": "nope"},
        ),
        post(
            "delete tag unknown experiment",
            "experiments/delete-experiment-tag",
            {"experiment_id": "999999", "key": "nope"},
        ),
        post("delete tag missing key", "experiments/delete-experiment-tag", {"experiment_id": "{exp_id}"}),
        get_exp("experiment state after bad input (tags)"),
    ],
)

# ---- request transport: bodies, content types, aliases --------------------------------
scenario(
    "request_bodies",
    [
        create_exp("exp_id", "bodies-{uniq}"),
        step("malformed JSON body", "POST", "experiments/create", raw_body='{"name": "mal-{uniq}"'),
        step("malformed JSON body for runs/create", "POST", "runs/create", raw_body="{not json"),
        step("empty body with JSON content type", "POST", "experiments/create", raw_body=""),
        step(
            "no Content-Type header (JSON text)",
            "POST",
            "experiments/create",
            raw_body='{"name": "noct-{uniq}"}',
            headers={"Content-Type": None},
        ),
        step(
            "Content-Type text/plain",
            "POST",
            "experiments/create",
            raw_body='{"name": "textplain-{uniq}"}',
            headers={"Content-Type": "text/plain"},
        ),
        step(
            "form-encoded body",
            "POST",
            "experiments/create",
            raw_body="name=form-{uniq}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        step(
            "Content-Type with charset",
            "POST",
            "experiments/create",
            raw_body='{"name": "charset-{uniq}"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        ),
        step("body is a JSON array", "POST", "experiments/create", raw_body='[{"name": "arr-{uniq}"}]'),
        step(
            "body is a double-encoded JSON string",
            "POST",
            "experiments/create",
            raw_body='"{\\"name\\": \\"dbl-{uniq}\\"}"',
        ),
        step("body is JSON null", "POST", "experiments/create", raw_body="null"),
        post(
            "camelCase field names (experimentId)",
            "runs/create",
            {"experimentId": "{exp_id}", "runName": "camel", "startTime": 1700000000123},
            capture={"camel_run": "run.info.run_id"},
            keep_times=["start_time"],
        ),
        post(
            "both snake and camel spellings",
            "runs/create",
            {"experiment_id": "{exp_id}", "experimentId": "{exp_id}"},
        ),
        post(
            "unknown fields are ignored",
            "runs/create",
            {"experiment_id": "{exp_id}", "run_name": "unk", "no_such_field": {"x": 1}},
            capture={"unk_run": "run.info.run_id"},
        ),
        post("GET-style query params on POST ignored", "experiments/create", {}, query={"name": "qs-{uniq}"}),
        get("POST-only fields as JSON body on GET", "experiments/get", json={"experiment_id": "{exp_id}"}),
        get(
            "query param repeated on scalar field",
            "experiments/get",
            [("experiment_id", "{exp_id}"), ("experiment_id", "0")],
        ),
        post(
            "run_uuid alias for runs/get-like write (set-tag)",
            "runs/set-tag",
            {"run_uuid": "{unk_run}", "key": "via", "value": "run_uuid"},
        ),
        post(
            "run_id and run_uuid disagree (set-tag)",
            "runs/set-tag",
            {"run_id": "{unk_run}", "run_uuid": "{camel_run}", "key": "both", "value": "x"},
        ),
        get("runs/get with run_uuid only", "runs/get", {"run_uuid": "{unk_run}"}),
        get(
            "runs/get with both run_id and run_uuid",
            "runs/get",
            {"run_id": "{camel_run}", "run_uuid": "{unk_run}"},
        ),
    ],
)

# ---- runs: lifecycle --------------------------------------------------------------------
scenario(
    "runs_lifecycle",
    [
        create_exp(),
        create_run(
            "run_full",
            run_name="full-run",
            start_time=1700000000000,
            user_id="alice",
            tags=[{"key": "t1", "value": "v1"}, {"key": "mlflow.source.type", "value": "LOCAL"}],
        ),
        get_run("get full run", "run_full", keep_times=["start_time"]),
        post(
            "create run without run_name",
            "runs/create",
            {"experiment_id": "{exp_id}"},
            capture={"run_noname": "run.info.run_id", "gen_name": "run.info.run_name"},
        ),
        get_run("get run with generated name", "run_noname"),
        create_run("run_tagname", tags=[{"key": "mlflow.runName", "value": "from-tag"}]),
        get_run("get run named via mlflow.runName tag", "run_tagname"),
        post(
            "create run with run_name and different mlflow.runName tag",
            "runs/create",
            {
                "experiment_id": "{exp_id}",
                "run_name": "from-field",
                "tags": [{"key": "mlflow.runName", "value": "from-tag"}],
            },
        ),
        create_run("run_same", run_name="same", tags=[{"key": "mlflow.runName", "value": "same"}]),
        get_run("get run with matching run_name and tag", "run_same"),
        post(
            "update status FINISHED + end_time",
            "runs/update",
            {"run_id": "{run_full}", "status": "FINISHED", "end_time": 1700000005000},
            keep_times=["start_time", "end_time"],
        ),
        get_run("get finished run", "run_full", keep_times=["start_time", "end_time"]),
        post(
            "update run_name only",
            "runs/update",
            {"run_id": "{run_full}", "run_name": "renamed-run"},
            keep_times=["start_time", "end_time"],
        ),
        get_run("get renamed run (tag follows?)", "run_full", keep_times=["start_time", "end_time"]),
        post(
            "update status back to RUNNING",
            "runs/update",
            {"run_id": "{run_full}", "status": "RUNNING"},
            keep_times=["start_time", "end_time"],
        ),
        post(
            "update with run_uuid only",
            "runs/update",
            {"run_uuid": "{run_full}", "status": "KILLED"},
            keep_times=["start_time", "end_time"],
        ),
        post(
            "update status as number 3 (FINISHED)",
            "runs/update",
            {"run_id": "{run_full}", "status": 3},
            keep_times=["start_time", "end_time"],
        ),
        post("update status garbage", "runs/update", {"run_id": "{run_full}", "status": "DONE"}),
        post("update end_time string", "runs/update", {"run_id": "{run_full}", "end_time": "x"}),
        post(
            "update end_time numeric string",
            "runs/update",
            {"run_id": "{run_full}", "end_time": "1700000009000"},
            keep_times=["start_time", "end_time"],
        ),
        post("update empty body", "runs/update", {}),
        post("update unknown run", "runs/update", {"run_id": "0" * 32, "status": "FINISHED"}),
        post(
            "update nothing (only run_id)",
            "runs/update",
            {"run_id": "{run_full}"},
            keep_times=["start_time", "end_time"],
        ),
        post("delete run", "runs/delete", {"run_id": "{run_full}"}),
        get_run("get deleted run", "run_full", keep_times=["start_time", "end_time"]),
        post("delete run again", "runs/delete", {"run_id": "{run_full}"}),
        post("restore run", "runs/restore", {"run_id": "{run_full}"}),
        get_run("get restored run", "run_full", keep_times=["start_time", "end_time"]),
        post("restore active run", "runs/restore", {"run_id": "{run_full}"}),
        post("delete unknown run", "runs/delete", {"run_id": "0" * 32}),
        post("restore unknown run", "runs/restore", {"run_id": "0" * 32}),
        post("delete missing run_id", "runs/delete", {}),
        post("delete with run_uuid only", "runs/delete", {"run_uuid": "{run_same}"}),
    ],
)

scenario(
    "runs_create_bad_input",
    [
        create_exp(),
        post("create run in unknown experiment 999999", "runs/create", {"experiment_id": "999999"}),
        post("create run in experiment abc", "runs/create", {"experiment_id": "abc"}),
        post("create run experiment_id int", "runs/create", {"experiment_id": 5}),
        post("create run start_time string", "runs/create", {"experiment_id": "{exp_id}", "start_time": "x"}),
        post(
            "create run start_time negative",
            "runs/create",
            {"experiment_id": "{exp_id}", "start_time": -5, "run_name": "neg"},
            keep_times=["start_time"],
        ),
        post("create run run_name int", "runs/create", {"experiment_id": "{exp_id}", "run_name": 5}),
        post(
            "create run run_name empty string",
            "runs/create",
            {"experiment_id": "{exp_id}", "run_name": ""},
            capture={"empty_name_run": "run.info.run_id", "empty_gen_name": "run.info.run_name"},
        ),
        post("create run tags not a list", "runs/create", {"experiment_id": "{exp_id}", "tags": {"k": "v"}}),
        post(
            "create run tag missing key",
            "runs/create",
            {"experiment_id": "{exp_id}", "tags": [{"value": "v"}]},
        ),
        post(
            "create run tag value 8001 (truncated?)",
            "runs/create",
            {
                "experiment_id": "{exp_id}",
                "run_name": "longtag",
                "tags": [{"key": "big", "value": "x" * 8001}],
            },
            capture={"bigtag_run": "run.info.run_id"},
        ),
        post(
            "create run tag key 251",
            "runs/create",
            {"experiment_id": "{exp_id}", "tags": [{"key": "k" * 251, "value": "v"}]},
        ),
        post("create run user_id int", "runs/create", {"experiment_id": "{exp_id}", "user_id": 7}),
        post(
            "create run status field ignored?",
            "runs/create",
            {"experiment_id": "{exp_id}", "run_name": "st", "status": "FINISHED"},
        ),
        post(
            "create run run_name 1000 chars",
            "runs/create",
            {"experiment_id": "{exp_id}", "run_name": "r" * 1000},
        ),
        create_exp("exp_del", "delexp-{uniq}"),
        create_run("run_in_del", exp="{exp_del}", run_name="before-delete"),
        post("delete experiment", "experiments/delete", {"experiment_id": "{exp_del}"}),
        post("create run in deleted experiment", "runs/create", {"experiment_id": "{exp_del}"}),
        get_run("run of deleted experiment is still readable", "run_in_del"),
        post(
            "log-metric into run of deleted experiment",
            "runs/log-metric",
            {"run_id": "{run_in_del}", "key": "m", "value": 1, "timestamp": TS},
        ),
        get("runs/get missing run_id", "runs/get"),
        get("runs/get unknown run", "runs/get", {"run_id": "0" * 32}),
        get("runs/get non-hex run id", "runs/get", {"run_id": "not-a-run"}),
        get("runs/get empty run_id", "runs/get", {"run_id": ""}),
        post("create run missing experiment_id (body {})", "runs/create", {}),
    ],
)

# ---- metrics -----------------------------------------------------------------------------
scenario(
    "log_metric",
    [
        create_exp(),
        create_run("run_id", run_name="metrics"),
        log_metric("metric with step", "m_step", 1.0, step=3),
        log_metric("metric without step", "m_nostep", 2.5),
        log_metric("metric NaN", "m_nan", "NaN"),
        log_metric("metric Infinity", "m_inf", "Infinity"),
        log_metric("metric -Infinity", "m_ninf", "-Infinity"),
        log_metric("metric int value", "m_int", 7),
        log_metric("metric numeric string value", "m_str", "1.5"),
        log_metric("metric value 'abc'", "m_bad", "abc"),
        log_metric("metric value null", "m_null", None),
        log_metric("metric value bool", "m_bool", True),
        log_metric("metric timestamp 'x'", "m_badts", 1.0, timestamp="x"),
        log_metric("metric timestamp numeric string", "m_strts", 1.0, timestamp=str(TS)),
        log_metric("metric timestamp float", "m_floatts", 1.0, timestamp=1700000000000.5),
        log_metric("metric step 1.5", "m_floatstep", 1.0, step=1.5),
        log_metric("metric step 2.0 (integral float)", "m_intfloatstep", 1.0, step=2.0),
        log_metric("metric step '4' string", "m_strstep", 1.0, step="4"),
        log_metric("metric negative step", "m_negstep", 1.0, step=-2),
        log_metric("metric missing timestamp", "m_nots", 1.0, timestamp=_OMIT),
        log_metric("metric negative timestamp", "m_negts", 1.0, timestamp=-1),
        log_metric("metric timestamp 0", "m_zerots", 1.0, timestamp=0),
        post(
            "metric missing value",
            "runs/log-metric",
            {"run_id": "{run_id}", "key": "m_noval", "timestamp": TS},
        ),
        post("metric missing key", "runs/log-metric", {"run_id": "{run_id}", "value": 1, "timestamp": TS}),
        log_metric("metric empty key", "", 1.0),
        log_metric("metric key 251 chars", "k" * 251, 1.0),
        log_metric("metric key 250 chars ok", "k" * 250, 1.0),
        log_metric("metric key path traversal", "../x", 1.0),
        log_metric("metric key with slash and dots", "a/b.c-d_e f", 1.0),
        log_metric("metric key with invalid char", "bad?key!", 1.0),
        log_metric("metric huge value 1e308", "m_huge", 1e308),
        post(
            "metric unknown run",
            "runs/log-metric",
            {"run_id": "0" * 32, "key": "m", "value": 1, "timestamp": TS},
        ),
        post("metric missing run_id", "runs/log-metric", {"key": "m", "value": 1, "timestamp": TS}),
        post(
            "metric via run_uuid",
            "runs/log-metric",
            {"run_uuid": "{run_id}", "key": "m_uuid", "value": 1, "timestamp": TS},
        ),
        post(
            "metric with dataset_name/digest",
            "runs/log-metric",
            {
                "run_id": "{run_id}",
                "key": "m_ds",
                "value": 1,
                "timestamp": TS,
                "dataset_name": "ds",
                "dataset_digest": "abc123",
            },
        ),
        get_run("get run with all metrics", keep_times=KEEP_METRIC_TS),
        get(
            "history of NaN metric",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m_nan"},
            keep_times=KEEP_METRIC_TS,
        ),
        get(
            "history of Infinity metric",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m_inf"},
            keep_times=KEEP_METRIC_TS,
        ),
        get(
            "history of dataset metric",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m_ds"},
            keep_times=KEEP_METRIC_TS,
        ),
    ],
)

scenario(
    "metric_latest_value",
    [
        create_exp(),
        create_run("run_id", run_name="latest"),
        log_metric("m step 5 ts 1000", "m", 1.0, step=5, timestamp=1000),
        log_metric("m step 5 ts 2000", "m", 2.0, step=5, timestamp=2000),
        log_metric("m step 3 ts 9000 (lower step, later time)", "m", 3.0, step=3, timestamp=9000),
        log_metric("m step 5 ts 2000 smaller value", "m", 0.5, step=5, timestamp=2000),
        log_metric("m exact duplicate", "m", 2.0, step=5, timestamp=2000),
        log_metric("n NaN at higher step", "n", "NaN", step=2, timestamp=1000),
        log_metric("n number at lower step", "n", 4.0, step=1, timestamp=5000),
        log_metric("p same step/ts NaN vs number (number)", "p", 1.0, step=0, timestamp=1000),
        log_metric("p same step/ts NaN vs number (NaN)", "p", "NaN", step=0, timestamp=1000),
        get_run("get run: latest values", keep_times=KEEP_METRIC_TS),
        get(
            "full history of m",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m"},
            keep_times=KEEP_METRIC_TS,
        ),
        get(
            "full history of p",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "p"},
            keep_times=KEEP_METRIC_TS,
        ),
    ],
)

# ---- params --------------------------------------------------------------------------
scenario(
    "log_param",
    [
        create_exp(),
        create_run("run_id", run_name="params"),
        post("log param", "runs/log-parameter", {"run_id": "{run_id}", "key": "lr", "value": "0.1"}),
        post(
            "log same param same value again",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "lr", "value": "0.1"},
        ),
        post(
            "log same param different value",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "lr", "value": "0.2"},
        ),
        post(
            "param value 6001 chars",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "long6001", "value": "p" * 6000 + "Z"},
        ),
        post(
            "param value 6000 chars",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "long6000", "value": "p" * 6000},
        ),
        post(
            "param value empty string",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "empty", "value": ""},
        ),
        post("param value int", "runs/log-parameter", {"run_id": "{run_id}", "key": "int", "value": 5}),
        post("param value null", "runs/log-parameter", {"run_id": "{run_id}", "key": "null", "value": None}),
        post("param missing value", "runs/log-parameter", {"run_id": "{run_id}", "key": "noval"}),
        post("param missing key", "runs/log-parameter", {"run_id": "{run_id}", "value": "v"}),
        post("param empty key", "runs/log-parameter", {"run_id": "{run_id}", "key": "", "value": "v"}),
        post("param key 251", "runs/log-parameter", {"run_id": "{run_id}", "key": "k" * 251, "value": "v"}),
        post(
            "param key path traversal ../x",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "../x", "value": "v"},
        ),
        post(
            "param key a/../../b",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "a/../../b", "value": "v"},
        ),
        post(
            "param key absolute /etc/passwd",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "/etc/passwd", "value": "v"},
        ),
        post(
            "param key a/b (nested ok)",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "a/b", "value": "v"},
        ),
        post(
            "param key with space and dash",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "my key-1.x", "value": "v"},
        ),
        post(
            "param key with invalid chars",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "bad*key", "value": "v"},
        ),
        post("param key int", "runs/log-parameter", {"run_id": "{run_id}", "key": 5, "value": "v"}),
        post("param unknown run", "runs/log-parameter", {"run_id": "0" * 32, "key": "k", "value": "v"}),
        post("param missing run id", "runs/log-parameter", {"key": "k", "value": "v"}),
        post(
            "param unicode value",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "uni", "value": "h\u00e9llo \u2603 \U0001f600"},
        ),
        get_run("get run: params (truncation visible)"),
    ],
)

# ---- tags --------------------------------------------------------------------------------
scenario(
    "run_tags",
    [
        create_exp(),
        create_run("run_id", run_name="tags"),
        post("set tag", "runs/set-tag", {"run_id": "{run_id}", "key": "t", "value": "1"}),
        post("overwrite tag", "runs/set-tag", {"run_id": "{run_id}", "key": "t", "value": "2"}),
        post(
            "tag value 8001 chars",
            "runs/set-tag",
            {"run_id": "{run_id}", "key": "long8001", "value": "t" * 8000 + "Z"},
        ),
        post(
            "tag value 8000 chars",
            "runs/set-tag",
            {"run_id": "{run_id}", "key": "long8000", "value": "t" * 8000},
        ),
        post(
            "tag value 10000 chars",
            "runs/set-tag",
            {"run_id": "{run_id}", "key": "long10000", "value": "t" * 10000},
        ),
        post("tag key 251", "runs/set-tag", {"run_id": "{run_id}", "key": "k" * 251, "value": "v"}),
        post("tag empty key", "runs/set-tag", {"run_id": "{run_id}", "key": "", "value": "v"}),
        post("tag empty value", "runs/set-tag", {"run_id": "{run_id}", "key": "emptyval", "value": ""}),
        post("tag value int", "runs/set-tag", {"run_id": "{run_id}", "key": "int", "value": 5}),
        post("tag missing value", "runs/set-tag", {"run_id": "{run_id}", "key": "noval"}),
        post("tag key path traversal", "runs/set-tag", {"run_id": "{run_id}", "key": "../x", "value": "v"}),
        post(
            "set mlflow.runName tag",
            "runs/set-tag",
            {"run_id": "{run_id}", "key": "mlflow.runName", "value": "renamed-by-tag"},
        ),
        get_run("get run: run_name follows mlflow.runName tag?"),
        post("delete tag", "runs/delete-tag", {"run_id": "{run_id}", "key": "t"}),
        post("delete tag again (unknown tag)", "runs/delete-tag", {"run_id": "{run_id}", "key": "t"}),
        post("delete tag unknown run", "runs/delete-tag", {"run_id": "0" * 32, "key": "t"}),
        post("delete tag missing key", "runs/delete-tag", {"run_id": "{run_id}"}),
        post("delete mlflow.runName tag", "runs/delete-tag", {"run_id": "{run_id}", "key": "mlflow.runName"}),
        get_run("get run after tag deletes"),
        post("set tag unknown run", "runs/set-tag", {"run_id": "0" * 32, "key": "k", "value": "v"}),
    ],
)

# ---- log-batch ------------------------------------------------------------------------
scenario(
    "log_batch",
    [
        create_exp(),
        create_run("run_id", run_name="batch"),
        post(
            "mixed batch",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "metrics": [metric("acc", 0.9, 0), metric("acc", 0.95, 1), metric("loss", "NaN", 0)],
                "params": [{"key": "p1", "value": "a"}, {"key": "p2", "value": "b"}],
                "tags": [{"key": "t1", "value": "x"}, {"key": "mlflow.note.content", "value": "hello"}],
            },
        ),
        get_run("get after mixed batch", keep_times=KEEP_METRIC_TS),
        post("empty batch", "runs/log-batch", {"run_id": "{run_id}"}),
        post(
            "empty lists batch",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [], "params": [], "tags": []},
        ),
        post(
            "batch 1000 metrics same key (limit)",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [metric("many", float(i), i) for i in range(1000)]},
        ),
        post(
            "batch 1001 metrics",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [metric("toomany", float(i), i) for i in range(1001)]},
        ),
        post(
            "batch 101 params",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": f"pp{i}", "value": "v"} for i in range(101)]},
        ),
        post(
            "batch 101 tags",
            "runs/log-batch",
            {"run_id": "{run_id}", "tags": [{"key": f"tt{i}", "value": "v"} for i in range(101)]},
        ),
        post(
            "batch 1000 metrics + 1 param (1001 entities)",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "metrics": [metric("ent", float(i), i) for i in range(1000)],
                "params": [{"key": "entp", "value": "v"}],
            },
        ),
        post(
            "batch duplicate param keys same value",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "dup", "value": "1"}, {"key": "dup", "value": "1"}]},
        ),
        post(
            "batch duplicate param keys different value",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "dup2", "value": "1"}, {"key": "dup2", "value": "2"}]},
        ),
        post(
            "batch param change (p1 a -> z)",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "p1", "value": "z"}]},
        ),
        post(
            "batch param same value again",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "p1", "value": "a"}]},
        ),
        post(
            "batch duplicate tag keys",
            "runs/log-batch",
            {"run_id": "{run_id}", "tags": [{"key": "dt", "value": "1"}, {"key": "dt", "value": "2"}]},
        ),
        post(
            "batch partly invalid metric value",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "metrics": [metric("partial_ok", 1.0), metric("partial_bad", "abc")],
                "params": [{"key": "partial_p", "value": "v"}],
                "tags": [{"key": "partial_t", "value": "v"}],
            },
        ),
        post(
            "batch partly invalid param key too long",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "metrics": [metric("partial2_ok", 1.0)],
                "params": [{"key": "partial2_p", "value": "v"}, {"key": "k" * 251, "value": "v"}],
                "tags": [{"key": "partial2_t", "value": "v"}],
            },
        ),
        post(
            "batch partly invalid negative timestamp",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "metrics": [metric("partial3_ok", 1.0), metric("partial3_bad", 1.0, ts=-1)],
                "params": [{"key": "partial3_p", "value": "v"}],
            },
        ),
        post(
            "batch partly invalid param change",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "params": [{"key": "partial4_p", "value": "v"}, {"key": "p2", "value": "changed"}],
                "tags": [{"key": "partial4_t", "value": "v"}],
            },
        ),
        get_run("get after partly invalid batches (nothing written?)", keep_times=KEEP_METRIC_TS),
        post("batch metrics not a list", "runs/log-batch", {"run_id": "{run_id}", "metrics": {"key": "m"}}),
        post(
            "batch tag entry missing key", "runs/log-batch", {"run_id": "{run_id}", "tags": [{"value": "v"}]}
        ),
        post(
            "batch param entry missing value",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "nv"}]},
        ),
        post(
            "batch metric missing timestamp",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [{"key": "nots", "value": 1.0, "step": 0}]},
        ),
        post(
            "batch metric missing step",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [{"key": "nostep", "value": 1.0, "timestamp": TS}]},
        ),
        post(
            "batch metric missing value",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [{"key": "noval", "timestamp": TS, "step": 0}]},
        ),
        post(
            "batch param value 6001 (truncated?)",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "blong", "value": "b" * 6000 + "Z"}]},
        ),
        post(
            "batch tag value 8001 (truncated?)",
            "runs/log-batch",
            {"run_id": "{run_id}", "tags": [{"key": "btlong", "value": "b" * 8000 + "Z"}]},
        ),
        post(
            "batch unknown run",
            "runs/log-batch",
            {"run_id": "0" * 32, "params": [{"key": "k", "value": "v"}]},
        ),
        post("batch missing run_id", "runs/log-batch", {"params": [{"key": "k", "value": "v"}]}),
        post(
            "batch Infinity metric",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [metric("binf", "Infinity")]},
        ),
        get_run("final state of batch run", keep_times=KEEP_METRIC_TS),
        get(
            "history of 'many' page max_results=3",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "many", "max_results": "3"},
            keep_times=KEEP_METRIC_TS,
        ),
    ],
)

scenario(
    "log_batch_large_request",
    [
        create_exp(),
        create_run("run_id", run_name="big"),
        post(
            "batch ~1.4 MB (100 params x 6000 + 100 tags x 8000)",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "params": [{"key": f"bp{i}", "value": "x" * 6000} for i in range(100)],
                "tags": [{"key": f"bt{i}", "value": "y" * 8000} for i in range(100)],
            },
        ),
        post(
            "batch 100 params + 100 tags small (ok)",
            "runs/log-batch",
            {
                "run_id": "{run_id}",
                "params": [{"key": f"sp{i}", "value": "v"} for i in range(100)],
                "tags": [{"key": f"st{i}", "value": "v"} for i in range(100)],
            },
        ),
        post(
            "search runs: count of params via filter",
            "runs/search",
            {"experiment_ids": ["{exp_id}"], "filter": "params.sp99 = 'v'", "max_results": 10},
        ),
    ],
)

# ---- writes to deleted runs -----------------------------------------------------------
scenario(
    "deleted_run_writes",
    [
        create_exp(),
        create_run("run_id", run_name="to-delete"),
        post("delete run", "runs/delete", {"run_id": "{run_id}"}),
        log_metric("log-metric on deleted run", "m", 1.0),
        post(
            "log-parameter on deleted run",
            "runs/log-parameter",
            {"run_id": "{run_id}", "key": "k", "value": "v"},
        ),
        post("set-tag on deleted run", "runs/set-tag", {"run_id": "{run_id}", "key": "k", "value": "v"}),
        post("delete-tag on deleted run", "runs/delete-tag", {"run_id": "{run_id}", "key": "mlflow.runName"}),
        post(
            "log-batch on deleted run",
            "runs/log-batch",
            {"run_id": "{run_id}", "params": [{"key": "k", "value": "v"}]},
        ),
        post("update deleted run", "runs/update", {"run_id": "{run_id}", "status": "FINISHED"}),
        post("log-inputs on deleted run", "runs/log-inputs", {"run_id": "{run_id}", "datasets": []}),
        get("get-history of deleted run", "metrics/get-history", {"run_id": "{run_id}", "metric_key": "m"}),
        get_run("get deleted run"),
    ],
)

# ---- log-inputs ------------------------------------------------------------------------
DATASET = {
    "name": "iris",
    "digest": "abc123",
    "source_type": "local",
    "source": '{"uri": "/data/iris.csv"}',
    "schema": '{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
    "profile": '{"num_rows": 150}',
}

scenario(
    "log_inputs",
    [
        create_exp(),
        create_run("run_id", run_name="inputs"),
        post(
            "log dataset with context tag",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [
                    {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": DATASET}
                ],
            },
        ),
        post(
            "log same dataset again same context",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [
                    {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": DATASET}
                ],
            },
        ),
        post(
            "log same dataset with other context",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "eval"}], "dataset": DATASET}],
            },
        ),
        post(
            "log minimal dataset without tags",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [
                    {"dataset": {"name": "mini", "digest": "d1", "source_type": "code", "source": "{}"}}
                ],
            },
        ),
        get_run("get run with inputs"),
        post(
            "search runs filter datasets.name",
            "runs/search",
            {"experiment_ids": ["{exp_id}"], "filter": "datasets.name = 'iris'", "max_results": 10},
        ),
        post(
            "search runs filter datasets.context",
            "runs/search",
            {"experiment_ids": ["{exp_id}"], "filter": "datasets.context = 'eval'", "max_results": 10},
        ),
        post("log-inputs no datasets", "runs/log-inputs", {"run_id": "{run_id}"}),
        post(
            "log-inputs dataset missing digest",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [{"dataset": {"name": "nodigest", "source_type": "local", "source": "x"}}],
            },
        ),
        post(
            "log-inputs entry missing dataset",
            "runs/log-inputs",
            {"run_id": "{run_id}", "datasets": [{"tags": [{"key": "k", "value": "v"}]}]},
        ),
        post(
            "log-inputs datasets not a list", "runs/log-inputs", {"run_id": "{run_id}", "datasets": DATASET}
        ),
        post("log-inputs unknown run", "runs/log-inputs", {"run_id": "0" * 32, "datasets": []}),
        post("log-inputs missing run_id", "runs/log-inputs", {"datasets": []}),
        post(
            "log-inputs dataset name too long (501)",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [
                    {"dataset": {"name": "n" * 501, "digest": "d", "source_type": "local", "source": "x"}}
                ],
            },
        ),
        post(
            "log-inputs input tag key 256",
            "runs/log-inputs",
            {
                "run_id": "{run_id}",
                "datasets": [
                    {
                        "tags": [{"key": "k" * 256, "value": "v"}],
                        "dataset": {"name": "tk", "digest": "d", "source_type": "local", "source": "x"},
                    }
                ],
            },
        ),
        post(
            "log-inputs unknown model input",
            "runs/log-inputs",
            {"run_id": "{run_id}", "models": [{"model_id": "m-doesnotexist"}]},
        ),
        get_run("final inputs state"),
    ],
)

# ---- metric history ---------------------------------------------------------------------
scenario(
    "metric_history",
    [
        create_exp(),
        create_run("run_id", run_name="hist"),
        post(
            "log 5 points of m",
            "runs/log-batch",
            {"run_id": "{run_id}", "metrics": [metric("m", i * 0.5, i, TS + i) for i in range(5)]},
        ),
        get("history all", "metrics/get-history", {"run_id": "{run_id}", "metric_key": "m"}, keep_times=True),
        get(
            "history page 1 max_results=2",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "2"},
            keep_times=True,
            capture={"tok1": "next_page_token"},
        ),
        get(
            "history page 2",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "2", "page_token": "{tok1}"},
            keep_times=True,
            capture={"tok2": "next_page_token"},
        ),
        get(
            "history page 3 (last)",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "2", "page_token": "{tok2}"},
            keep_times=True,
        ),
        get(
            "history max_results=5 exactly (token?)",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "5"},
            keep_times=True,
        ),
        get(
            "history token without max_results",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "page_token": "{tok1}"},
            keep_times=True,
        ),
        get(
            "history garbage page_token",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "2", "page_token": "garbage!!"},
        ),
        get(
            "history max_results=0",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "0"},
            keep_times=True,
        ),
        get(
            "history max_results=-1",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "-1"},
            keep_times=True,
        ),
        get(
            "history max_results=abc",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "abc"},
        ),
        get(
            "history max_results=25001",
            "metrics/get-history",
            {"run_id": "{run_id}", "metric_key": "m", "max_results": "25001"},
            keep_times=True,
        ),
        get(
            "history via run_uuid",
            "metrics/get-history",
            {"run_uuid": "{run_id}", "metric_key": "m", "max_results": "1"},
            keep_times=True,
        ),
        get("history unknown key", "metrics/get-history", {"run_id": "{run_id}", "metric_key": "nope"}),
        get("history unknown run", "metrics/get-history", {"run_id": "0" * 32, "metric_key": "m"}),
        get("history missing metric_key", "metrics/get-history", {"run_id": "{run_id}"}),
        get("history missing run_id", "metrics/get-history", {"metric_key": "m"}),
    ],
)

scenario(
    "metric_history_bulk_interval",
    [
        create_exp(),
        create_run("r1", run_name="b1"),
        create_run("r2", run_name="b2"),
        post(
            "log 10 points to r1",
            "runs/log-batch",
            {"run_id": "{r1}", "metrics": [metric("m", float(i), i, TS + i) for i in range(10)]},
        ),
        post(
            "log 3 points to r2",
            "runs/log-batch",
            {"run_id": "{r2}", "metrics": [metric("m", float(10 * i), i * 4, TS + i) for i in range(3)]},
        ),
        get(
            "bulk both runs",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("run_ids", "{r2}"), ("metric_key", "m")],
            keep_times=True,
        ),
        get(
            "bulk max_results=3",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "m"), ("max_results", "3")],
            keep_times=True,
        ),
        get(
            "bulk start_step=2 end_step=5",
            "metrics/get-history-bulk-interval",
            [
                ("run_ids", "{r1}"),
                ("run_ids", "{r2}"),
                ("metric_key", "m"),
                ("start_step", "2"),
                ("end_step", "5"),
            ],
            keep_times=True,
        ),
        get(
            "bulk steps + max_results=2",
            "metrics/get-history-bulk-interval",
            [
                ("run_ids", "{r1}"),
                ("metric_key", "m"),
                ("start_step", "0"),
                ("end_step", "9"),
                ("max_results", "2"),
            ],
            keep_times=True,
        ),
        get(
            "bulk only start_step",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "m"), ("start_step", "2")],
        ),
        get(
            "bulk start > end",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "m"), ("start_step", "5"), ("end_step", "2")],
        ),
        get(
            "bulk max_results=0",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "m"), ("max_results", "0")],
        ),
        get(
            "bulk max_results too big",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "m"), ("max_results", "100000")],
        ),
        get(
            "bulk unknown run",
            "metrics/get-history-bulk-interval",
            [("run_ids", "0" * 32), ("metric_key", "m")],
        ),
        get(
            "bulk unknown key",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}"), ("metric_key", "nope")],
        ),
        get("bulk missing run_ids", "metrics/get-history-bulk-interval", {"metric_key": "m"}),
        get("bulk missing metric_key", "metrics/get-history-bulk-interval", {"run_ids": "{r1}"}),
        get(
            "bulk 101 run_ids",
            "metrics/get-history-bulk-interval",
            [("run_ids", "{r1}")] * 101 + [("metric_key", "m")],
        ),
    ],
)


# ---- search runs ------------------------------------------------------------------------
def _search(name, body=None, **kw):
    b = {"experiment_ids": ["{exp_id}"], "max_results": 100}
    b.update(body or {})
    b = {k: v for k, v in b.items() if v is not None}  # None = leave the field out
    return post(name, "runs/search", b, **kw)


scenario(
    "search_runs",
    [
        create_exp(),
        create_run(
            "ra", run_name="alpha", start_time=1700000001000, tags=[{"key": "team", "value": "ml-core"}]
        ),
        create_run(
            "rb", run_name="beta", start_time=1700000002000, tags=[{"key": "team", "value": "ml-infra"}]
        ),
        create_run("rc", run_name="gamma", start_time=1700000003000, tags=[{"key": "team", "value": "data"}]),
        create_run("rd", run_name="delta", start_time=1700000004000),
        create_run("re", run_name="epsilon", start_time=1700000005000),
        create_run("rz", run_name="zeta", start_time=1700000006000),
        create_run("rh", run_name="eta", start_time=1700000000500),
        post(
            "ra metrics/params",
            "runs/log-batch",
            {"run_id": "{ra}", "metrics": [metric("acc", 0.9)], "params": [{"key": "lr", "value": "0.1"}]},
        ),
        post(
            "rb metrics/params",
            "runs/log-batch",
            {"run_id": "{rb}", "metrics": [metric("acc", 0.4)], "params": [{"key": "lr", "value": "0.01"}]},
        ),
        post(
            "rc NaN acc",
            "runs/log-batch",
            {"run_id": "{rc}", "metrics": [metric("acc", "NaN")], "params": [{"key": "lr", "value": "1"}]},
        ),
        post("rd acc 0.7, no lr", "runs/log-batch", {"run_id": "{rd}", "metrics": [metric("acc", 0.7)]}),
        post(
            "rh ties with ra on acc and lr",
            "runs/log-batch",
            {"run_id": "{rh}", "metrics": [metric("acc", 0.9)], "params": [{"key": "lr", "value": "0.1"}]},
        ),
        # re: deleted; rz: no acc, no lr, no team tag; rh: same acc/lr as ra, earliest start
        post("finish rb", "runs/update", {"run_id": "{rb}", "status": "FINISHED", "end_time": 1700000009000}),
        post("delete re", "runs/delete", {"run_id": "{re}"}),
        _search("all active, default order"),
        _search("metrics.acc > 0.5", {"filter": "metrics.acc > 0.5"}),
        _search("metrics.acc <= 0.4", {"filter": "metrics.acc <= 0.4"}),
        _search("metrics.acc != 0.9", {"filter": "metrics.acc != 0.9"}),
        _search("metrics.acc > -1000000 (does NaN match?)", {"filter": "metrics.acc > -1000000"}),
        _search("params.lr = '0.1'", {"filter": "params.lr = '0.1'"}),
        _search('params.lr = "0.01" double quotes', {"filter": 'params.lr = "0.01"'}),
        _search("params.lr != '0.1'", {"filter": "params.lr != '0.1'"}),
        _search("param.lr singular prefix", {"filter": "param.lr = '0.1'"}),
        _search("tags.team LIKE 'ml%'", {"filter": "tags.team LIKE 'ml%'"}),
        _search("tags.team ILIKE 'ML-%'", {"filter": "tags.team ILIKE 'ML-%'"}),
        _search("tags.team LIKE case sensitive 'ML%'", {"filter": "tags.team LIKE 'ML%'"}),
        _search("tags.team IS NULL", {"filter": "tags.team IS NULL"}),
        _search("params.lr IS NOT NULL", {"filter": "params.lr IS NOT NULL"}),
        _search("attributes.status = 'FINISHED'", {"filter": "attributes.status = 'FINISHED'"}),
        _search("attribute.status != 'FINISHED'", {"filter": "attribute.status != 'FINISHED'"}),
        _search("run_name = 'alpha' (bare attribute)", {"filter": "run_name = 'alpha'"}),
        _search("attributes.run_name LIKE '%a'", {"filter": "attributes.run_name LIKE '%a'"}),
        _search("tags.`mlflow.runName` = 'gamma'", {"filter": "tags.`mlflow.runName` = 'gamma'"}),
        _search("run_id IN (ra, rb)", {"filter": "attributes.run_id IN ('{ra}', '{rb}')"}),
        _search("run_id NOT IN (ra)", {"filter": "run_id NOT IN ('{ra}')"}),
        _search("run_id = rc", {"filter": "attributes.run_id = '{rc}'"}),
        _search("start_time > 1700000002000", {"filter": "attributes.start_time > 1700000002000"}),
        _search("created < 1700000002500", {"filter": "attributes.created < 1700000002500"}),
        _search("end_time > 0", {"filter": "attributes.end_time > 0"}),
        _search(
            "AND of three", {"filter": "metrics.acc > 0.1 AND params.lr != '1' AND tags.team LIKE '%ml%'"}
        ),
        _search("and lowercase", {"filter": "metrics.acc > 0.1 and params.lr = '0.1'"}),
        _search("dangling AND AND", {"filter": "params.lr = '0.1' AND AND"}),
        _search("metric name with backticks", {"filter": "metrics.`acc` > 0.5"}),
        _search("filter on missing metric", {"filter": "metrics.nope > 0"}),
        _search("metrics.acc < 1e10 (NaN?)", {"filter": "metrics.acc < 10000000000"}),
        _search("numeric compare on param (string compare?)", {"filter": "params.lr > '0.05'"}),
        _search("order metrics.acc DESC", {"order_by": ["metrics.acc DESC"]}),
        _search("order metrics.acc ASC", {"order_by": ["metrics.acc ASC"]}),
        _search("order metrics.acc (default asc)", {"order_by": ["metrics.acc"]}),
        _search("order params.lr ASC", {"order_by": ["params.lr ASC"]}),
        _search("order params.lr DESC", {"order_by": ["params.lr DESC"]}),
        _search("order tags.team DESC", {"order_by": ["tags.team DESC"]}),
        _search("order attributes.start_time ASC", {"order_by": ["attributes.start_time ASC"]}),
        _search("order start_time DESC (bare)", {"order_by": ["start_time DESC"]}),
        _search("order run_name ASC", {"order_by": ["attributes.run_name ASC"]}),
        _search(
            "order status, then metrics.acc DESC", {"order_by": ["attributes.status ASC", "metrics.acc DESC"]}
        ),
        _search("order lowercase desc", {"order_by": ["metrics.acc desc"]}),
        _search("view ACTIVE_ONLY", {"run_view_type": "ACTIVE_ONLY"}),
        _search("view DELETED_ONLY", {"run_view_type": "DELETED_ONLY"}),
        _search("view ALL, order start_time ASC", {"run_view_type": "ALL", "order_by": ["start_time ASC"]}),
        _search("page 1 max_results=2", {"max_results": 2}, capture={"tok": "next_page_token"}),
        _search(
            "page 2 with token",
            {"max_results": 2, "page_token": "{tok}"},
            capture={"tok2": "next_page_token"},
        ),
        _search("page 3 with token (last, 1 run)", {"max_results": 2, "page_token": "{tok2}"}),
        _search(
            "page 2 of an ordered search",
            {"max_results": 2, "page_token": "{tok}", "order_by": ["metrics.acc DESC"]},
        ),
        _search("max_results=6 exactly all (token?)", {"max_results": 6}),
        _search("max_results=5 (one left: token?)", {"max_results": 5}),
        _search(
            "page_token with a different filter",
            {"max_results": 2, "page_token": "{tok}", "filter": "params.lr IS NOT NULL"},
        ),
        _search("no max_results (default)", {"max_results": None}),
    ],
)

scenario(
    "search_runs_bad_input",
    [
        create_exp(),
        create_run("ra", run_name="alpha", start_time=1700000001000),
        _search("max_results 0", {"max_results": 0}),
        _search("max_results -1", {"max_results": -1}),
        _search("max_results 50001", {"max_results": 50001}),
        _search("max_results 50000 ok", {"max_results": 50000}),
        _search("max_results string '2'", {"max_results": "2"}),
        _search("max_results 'abc'", {"max_results": "abc"}),
        _search("garbage page_token", {"page_token": "garbage!!"}),
        _search("base64 non-json page_token", {"page_token": "aGVsbG8="}),
        _search("filter OR", {"filter": "params.x = '1' OR params.y = '2'"}),
        _search("filter unquoted string", {"filter": "params.x = abc"}),
        _search("filter LIKE on metric", {"filter": "metrics.acc LIKE '0.%'"}),
        _search("filter metric compared with string", {"filter": "metrics.acc > 'abc'"}),
        _search("filter unknown entity foo.x", {"filter": "foo.x = '1'"}),
        _search("filter unknown attribute", {"filter": "attributes.bogus = 'x'"}),
        _search("filter SQL injection", {"filter": "params.x = '1' OR 1=1 --"}),
        _search("filter injection inside quotes", {"filter": "params.x = '1'' OR ''1''=''1'"}),
        _search("filter parentheses", {"filter": "(params.x = '1')"}),
        _search("filter missing comparator", {"filter": "params.x"}),
        _search("filter IN on param", {"filter": "params.x IN ('1','2')"}),
        _search("filter status IN", {"filter": "attributes.status IN ('FINISHED')"}),
        _search("filter start_time with string", {"filter": "attributes.start_time > 'abc'"}),
        _search("filter not a string", {"filter": 5}),
        _search("bad order_by key", {"order_by": ["foo.bar ASC"]}),
        _search("bad order_by direction", {"order_by": ["metrics.acc SIDEWAYS"]}),
        _search("order_by unknown attribute", {"order_by": ["attributes.bogus"]}),
        _search("order_by not a list", {"order_by": "metrics.acc"}),
        _search("order_by empty string", {"order_by": [""]}),
        _search("run_view_type garbage", {"run_view_type": "SOMETIMES"}),
        post("experiment_ids missing", "runs/search", {"max_results": 10}),
        post("experiment_ids empty list", "runs/search", {"experiment_ids": [], "max_results": 10}),
        post(
            "experiment_ids string not list", "runs/search", {"experiment_ids": "{exp_id}", "max_results": 10}
        ),
        post("experiment_ids with ints", "runs/search", {"experiment_ids": [999999], "max_results": 10}),
        post("experiment_ids unknown", "runs/search", {"experiment_ids": ["999999"], "max_results": 10}),
        post("experiment_ids non-numeric", "runs/search", {"experiment_ids": ["abc"], "max_results": 10}),
        post(
            "experiment_ids with one unknown id",
            "runs/search",
            {"experiment_ids": ["{exp_id}", "999999"], "max_results": 10},
        ),
    ],
)

# ---- run name / tag interactions and run id as search key -------------------------------
scenario(
    "run_name_semantics",
    [
        create_exp(),
        create_run("r1", run_name="first", start_time=1700000000000),
        post(
            "set-tag mlflow.runName",
            "runs/set-tag",
            {"run_id": "{r1}", "key": "mlflow.runName", "value": "second"},
        ),
        get_run("run_name after set-tag", "r1", keep_times=["start_time"]),
        post("update run_name", "runs/update", {"run_id": "{r1}", "run_name": "third"}),
        get_run("tag after update run_name", "r1", keep_times=["start_time"]),
        post(
            "log-batch mlflow.runName tag",
            "runs/log-batch",
            {"run_id": "{r1}", "tags": [{"key": "mlflow.runName", "value": "fourth"}]},
        ),
        get_run("run_name after log-batch tag", "r1", keep_times=["start_time"]),
        post("update run_name empty string", "runs/update", {"run_id": "{r1}", "run_name": ""}),
        get_run("after empty run_name update", "r1", keep_times=["start_time"]),
        _search("search by new name", {"filter": "attributes.run_name = 'fourth'"}),
        create_run("r2", run_name="dupname", start_time=1700000001000),
        create_run("r3", run_name="dupname", start_time=1700000002000),
        _search("duplicate run names allowed", {"filter": "run_name = 'dupname'"}),
    ],
)


# ---- MLflow 3 GenAI: evaluation datasets, scorers, issues (/api/3.0) -----------------------
API3 = "/api/3.0/mlflow"


def v3(method, name, path, **kw):
    return step(name, method, f"{API3}/{path}", **kw)


def dataset_search(name, filter_string, **kw):
    return v3("POST", name, "datasets/search", json={"filter_string": filter_string}, **kw)


scenario(
    "genai_datasets",
    [
        create_exp(),
        v3(
            "POST",
            "create dataset",
            "datasets/create",
            json={"name": "qa-{uniq}", "experiment_ids": ["{exp_id}"], "tags": '{"team": "a"}'},
            capture={"dataset_id": "dataset.dataset_id", "digest0": "dataset.digest"},
        ),
        v3("GET", "get dataset", "datasets/{dataset_id}"),
        v3("GET", "experiment ids", "datasets/{dataset_id}/experiment-ids"),
        v3(
            "POST",
            "upsert two records",
            "datasets/{dataset_id}/records",
            json={
                "records": '[{"inputs": {"q": "a"}, "expectations": {"x": 1}}, {"inputs": {"q": "b"}, "outputs": "B"}]'
            },
        ),
        v3(
            "POST",
            "upsert one again, one new",
            "datasets/{dataset_id}/records",
            json={"records": '[{"inputs": {"q": "a"}, "expectations": {"y": true}}, {"inputs": {"q": "c"}}]'},
        ),
        v3(
            "GET", "get dataset after upserts", "datasets/{dataset_id}", capture={"digest1": "dataset.digest"}
        ),
        v3("PATCH", "set tags", "datasets/{dataset_id}/tags", json={"tags": '{"stage": "dev"}'}),
        v3("DELETE", "delete tag", "datasets/{dataset_id}/tags/team"),
        dataset_search("search by name", "name = 'qa-{uniq}'", capture={"digest2": "datasets.0.digest"}),
        dataset_search("search by tag", "tags.stage = 'dev' AND name LIKE 'qa-{uniq}'"),
        dataset_search("search bad attribute", "digest = 'x'"),
        v3("POST", "search bad order_by", "datasets/search", json={"order_by": ["digest DESC"]}),
        dataset_search("search created_time float", "created_time > 1.5"),
        v3("POST", "upsert records not json", "datasets/{dataset_id}/records", json={"records": "not json"}),
        v3("POST", "upsert records missing", "datasets/{dataset_id}/records", json={}),
        v3("POST", "create without name", "datasets/create", json={}),
        v3("GET", "get missing dataset", "datasets/d-00000000000000000000000000000000"),
        v3("DELETE", "delete dataset", "datasets/{dataset_id}"),
        v3("GET", "get deleted dataset", "datasets/{dataset_id}"),
    ],
)

SERIALIZED_SCORER = '{"name": "judge", "aggregations": [], "mlflow_version": "3.17.2", "serialization_version": 1, "builtin_scorer_class": "Safety", "builtin_scorer_pydantic_data": {"name": "judge", "required_columns": ["inputs", "outputs"]}}'

scenario(
    "genai_scorers",
    [
        create_exp(),
        v3(
            "POST",
            "register v1",
            "scorers/register",
            json={"experiment_id": "{exp_id}", "name": "judge", "serialized_scorer": SERIALIZED_SCORER},
            capture={"scorer_id": "scorer_id"},
        ),
        v3(
            "POST",
            "register v2",
            "scorers/register",
            json={"experiment_id": "{exp_id}", "name": "judge", "serialized_scorer": SERIALIZED_SCORER},
        ),
        v3("GET", "list", "scorers/list", query={"experiment_id": "{exp_id}"}),
        v3("GET", "versions", "scorers/versions", query={"experiment_id": "{exp_id}", "name": "judge"}),
        v3("GET", "get latest", "scorers/get", query={"experiment_id": "{exp_id}", "name": "judge"}),
        v3(
            "GET",
            "get v1",
            "scorers/get",
            query={"experiment_id": "{exp_id}", "name": "judge", "version": "1"},
        ),
        v3(
            "GET",
            "get v9",
            "scorers/get",
            query={"experiment_id": "{exp_id}", "name": "judge", "version": "9"},
        ),
        v3("GET", "get unknown name", "scorers/get", query={"experiment_id": "{exp_id}", "name": "nope"}),
        v3(
            "POST",
            "register not json",
            "scorers/register",
            json={"experiment_id": "{exp_id}", "name": "bad", "serialized_scorer": "nope"},
        ),
        v3(
            "POST",
            "register without name",
            "scorers/register",
            json={"experiment_id": "{exp_id}", "serialized_scorer": SERIALIZED_SCORER},
        ),
        v3(
            "DELETE",
            "delete v1",
            "scorers/delete",
            json={"experiment_id": "{exp_id}", "name": "judge", "version": 1},
        ),
        v3(
            "GET",
            "versions after delete",
            "scorers/versions",
            query={"experiment_id": "{exp_id}", "name": "judge"},
        ),
        v3("DELETE", "delete all", "scorers/delete", json={"experiment_id": "{exp_id}", "name": "judge"}),
        v3("GET", "list after delete", "scorers/list", query={"experiment_id": "{exp_id}"}),
        v3("DELETE", "delete unknown", "scorers/delete", json={"experiment_id": "{exp_id}", "name": "judge"}),
    ],
)

scenario(
    "genai_issues",
    [
        create_exp(),
        create_run(),
        v3(
            "POST",
            "create issue",
            "issues",
            json={
                "experiment_id": "{exp_id}",
                "name": "slow",
                "description": "answers are slow",
                "severity": "high",
                "root_causes": ["no cache"],
                "categories": ["latency"],
                "source_run_id": "{run_id}",
                "created_by": "ann",
            },
            capture={"issue_id": "issue.issue_id"},
        ),
        v3(
            "POST",
            "create low issue",
            "issues",
            json={"experiment_id": "{exp_id}", "name": "rude", "description": "d", "severity": "low"},
            capture={"issue2": "issue.issue_id"},
        ),
        v3("GET", "get issue", "issues/{issue_id}"),
        v3(
            "PATCH",
            "update issue",
            "issues/{issue_id}",
            json={"issue_id": "{issue_id}", "status": "resolved", "name": "was slow"},
        ),
        v3("POST", "search issues", "issues/search", json={"experiment_id": "{exp_id}"}),
        v3(
            "POST",
            "search with trace count",
            "issues/search",
            json={"experiment_id": "{exp_id}", "include_trace_count": True},
        ),
        v3(
            "POST",
            "search resolved",
            "issues/search",
            json={"experiment_id": "{exp_id}", "filter_string": "status = 'resolved'"},
        ),
        v3("POST", "search paged", "issues/search", json={"experiment_id": "{exp_id}", "max_results": 1}),
        v3("POST", "search bad field", "issues/search", json={"filter_string": "description = 'x'"}),
        v3("POST", "search bad comparator", "issues/search", json={"filter_string": "status LIKE 'p%'"}),
        v3("POST", "create without description", "issues", json={"experiment_id": "{exp_id}", "name": "x"}),
        v3(
            "POST",
            "create in missing experiment",
            "issues",
            json={"experiment_id": "987654321", "name": "x", "description": "d"},
        ),
        v3("GET", "get missing issue", "issues/iss-00000000000000000000000000000000"),
        v3(
            "PATCH",
            "update missing issue",
            "issues/iss-00000000000000000000000000000000",
            json={"issue_id": "iss-00000000000000000000000000000000", "name": "x"},
        ),
    ],
)


# ---- MLflow 3 GenAI: label schemas and review queues (/api/3.0) ----------------------------
def start_trace(var, trace_id, exp="{exp_id}"):
    info = {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
        "request_time": "2024-01-01T00:00:00Z",
        "execution_duration": "0.005s",
        "state": "OK",
    }
    return v3(
        "POST",
        f"start trace {var}",
        "traces",
        json={"trace": {"trace_info": info}},
        capture={var: "trace.trace_info.trace_id"},
    )


def rq(method, name, path, **kw):
    return v3(method, name, f"review-queues/{path}", **kw)


def ls(method, name, path, **kw):
    return v3(method, name, f"label-schemas/{path}", **kw)


scenario(
    "genai_label_schemas",
    [
        create_exp(),
        ls(
            "POST",
            "create pass/fail",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "correct?",
                "type": "FEEDBACK",
                "input": {"pass_fail": {"positive_label": "yes", "negative_label": "no"}},
                "instruction": "check",
                "enable_comment": True,
            },
            capture={"schema_id": "label_schema.schema_id"},
        ),
        ls(
            "POST",
            "create categorical",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "tone",
                "type": "EXPECTATION",
                "input": {"categorical": {"options": ["a", "b"]}},
            },
            capture={"schema2": "label_schema.schema_id"},
        ),
        ls(
            "POST",
            "create numeric",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "score",
                "type": "FEEDBACK",
                "input": {"numeric": {"min_value": 0, "max_value": 5.5}},
            },
            capture={"schema3": "label_schema.schema_id"},
        ),
        ls("GET", "get", "get", query={"schema_id": "{schema_id}"}),
        ls("GET", "get by name", "get-by-name", query={"experiment_id": "{exp_id}", "name": "tone"}),
        ls(
            "PATCH",
            "update",
            "update",
            json={
                "schema_id": "{schema2}",
                "name": "Tone",
                "input": {"categorical": {"options": ["a", "c"]}},
            },
        ),
        ls(
            "POST",
            "create duplicate",
            "create",
            json={"experiment_id": "{exp_id}", "name": "score", "type": "FEEDBACK", "input": {"text": {}}},
        ),
        ls(
            "POST",
            "create reserved name",
            "create",
            json={"experiment_id": "{exp_id}", "name": "feedback", "type": "FEEDBACK", "input": {"text": {}}},
        ),
        ls(
            "POST",
            "create same labels",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "p",
                "type": "FEEDBACK",
                "input": {"pass_fail": {"positive_label": "x", "negative_label": "x"}},
            },
        ),
        ls(
            "POST",
            "create empty input",
            "create",
            json={"experiment_id": "{exp_id}", "name": "e", "type": "FEEDBACK", "input": {}},
        ),
        ls(
            "POST",
            "create unspecified type",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "u",
                "type": "LABEL_SCHEMA_TYPE_UNSPECIFIED",
                "input": {"text": {}},
            },
        ),
        ls(
            "POST",
            "create in missing experiment",
            "create",
            json={"experiment_id": "987654321", "name": "m", "type": "FEEDBACK", "input": {"text": {}}},
        ),
        ls("PATCH", "change input kind", "update", json={"schema_id": "{schema2}", "input": {"text": {}}}),
        ls("GET", "get missing", "get", query={"schema_id": "ls-missing"}),
        ls("GET", "get by missing name", "get-by-name", query={"experiment_id": "{exp_id}", "name": "nope"}),
        ls("GET", "list bad max_results", "list", query={"experiment_id": "{exp_id}", "max_results": "0"}),
        ls("DELETE", "delete", "delete", json={"schema_id": "{schema_id}"}),
        ls("DELETE", "delete again", "delete", json={"schema_id": "{schema_id}"}),
        ls("GET", "get deleted", "get", query={"schema_id": "{schema_id}"}),
    ],
)


scenario(
    "genai_review_queues",
    [
        create_exp(),
        create_exp("exp2", "exp2-{uniq}"),
        start_trace("trace1", "tr-{uniq}1"),
        start_trace("trace2", "tr-{uniq}2"),
        start_trace("foreign", "tr-{uniq}3", exp="{exp2}"),
        rq(
            "POST",
            "create custom",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "Launch",
                "queue_type": "CUSTOM",
                "users": ["Ann", "bob"],
            },
            capture={"queue_id": "review_queue.queue_id"},
        ),
        rq("GET", "get", "get", query={"queue_id": "{queue_id}"}),
        rq(
            "GET",
            "get by name any case",
            "get-by-name",
            query={"experiment_id": "{exp_id}", "name": "LAUNCH"},
        ),
        rq(
            "POST",
            "create same name other case",
            "create",
            json={"experiment_id": "{exp_id}", "name": "launch", "queue_type": "CUSTOM"},
        ),
        rq(
            "POST",
            "create reserved",
            "create",
            json={"experiment_id": "{exp_id}", "name": "Default", "queue_type": "CUSTOM"},
        ),
        rq(
            "POST",
            "create unspecified type",
            "create",
            json={"experiment_id": "{exp_id}", "name": "x", "queue_type": "REVIEW_QUEUE_TYPE_UNSPECIFIED"},
        ),
        rq(
            "POST",
            "create user queue with other user",
            "create",
            json={"experiment_id": "{exp_id}", "name": "ann", "queue_type": "USER", "users": ["bob"]},
        ),
        rq(
            "POST",
            "create with unknown schema",
            "create",
            json={
                "experiment_id": "{exp_id}",
                "name": "s",
                "queue_type": "CUSTOM",
                "schema_ids": ["ls-nope"],
            },
        ),
        rq(
            "POST",
            "get or create user queue",
            "get-or-create-user",
            json={"experiment_id": "{exp_id}", "user": "Carol"},
            capture={"user_queue": "review_queue.queue_id"},
        ),
        rq(
            "POST",
            "get or create again",
            "get-or-create-user",
            json={"experiment_id": "{exp_id}", "user": "carol"},
        ),
        rq("POST", "update user queue", "update", json={"queue_id": "{user_queue}", "name": "x"}),
        rq(
            "POST",
            "add items",
            "items/add",
            json={"queue_id": "{queue_id}", "item_ids": ["{trace2}", "{trace1}", "{trace2}"]},
        ),
        rq(
            "POST",
            "add foreign trace",
            "items/add",
            json={"queue_id": "{queue_id}", "item_ids": ["{foreign}"]},
        ),
        rq(
            "POST",
            "add unknown trace",
            "items/add",
            json={"queue_id": "{queue_id}", "item_ids": ["tr-unknown"]},
        ),
        rq("POST", "add no items", "items/add", json={"queue_id": "{queue_id}", "item_ids": []}),
        rq(
            "POST",
            "complete without who",
            "items/set-status",
            json={"queue_id": "{queue_id}", "item_id": "{trace1}", "status": "COMPLETE"},
        ),
        rq(
            "POST",
            "complete",
            "items/set-status",
            json={
                "queue_id": "{queue_id}",
                "item_id": "{trace1}",
                "status": "COMPLETE",
                "completed_by": "Ann",
            },
        ),
        rq(
            "POST",
            "set status of item not in queue",
            "items/set-status",
            json={
                "queue_id": "{queue_id}",
                "item_id": "{foreign}",
                "status": "DECLINED",
                "completed_by": "a",
            },
        ),
        rq(
            "POST",
            "reopen with who",
            "items/set-status",
            json={"queue_id": "{queue_id}", "item_id": "{trace1}", "status": "PENDING", "completed_by": "a"},
        ),
        rq("GET", "list pending items", "items/list", query={"queue_id": "{queue_id}", "status": "PENDING"}),
        rq("GET", "list queues of bob", "list", query={"experiment_id": "{exp_id}", "user": "BOB"}),
        rq(
            "GET",
            "list queues holding trace",
            "list",
            query={"experiment_id": "{exp_id}", "item_id": "{trace1}"},
        ),
        rq("GET", "list bad max_results", "list", query={"experiment_id": "{exp_id}", "max_results": "0"}),
        rq("POST", "lock questions", "update", json={"queue_id": "{queue_id}", "update_schema_ids": True}),
        rq(
            "POST",
            "update users and name",
            "update",
            json={"queue_id": "{queue_id}", "name": "Launch 2", "update_users": True, "users": ["dana"]},
        ),
        rq(
            "POST",
            "remove items",
            "items/remove",
            json={"queue_id": "{queue_id}", "item_ids": ["{trace1}", "x"]},
        ),
        rq("GET", "list items", "items/list", query={"queue_id": "{queue_id}"}),
        rq("POST", "delete", "delete", json={"queue_id": "{queue_id}"}),
        rq("POST", "delete again", "delete", json={"queue_id": "{queue_id}"}),
        rq("GET", "get deleted", "get", query={"queue_id": "{queue_id}"}),
        rq("GET", "list items of deleted", "items/list", query={"queue_id": "{queue_id}"}),
    ],
)
