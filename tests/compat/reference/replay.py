"""Replay raw REST scenarios against an MLflow-compatible tracking server.

Used to record golden answers from the reference ``mlflow server`` and, later, to
check that Studio answers the same way.  Only depends on ``requests``.

    python tests/compat/reference/replay.py http://127.0.0.1:5077 \
        tests/compat/reference/mlflow-3.18.0.json

Step format (see scenarios.py)::

    {"name": str, "method": "GET"|"POST"|"PATCH"|"DELETE"|..., "path": "/api/2.0/mlflow/...",
     "query": {...} | [(k, v), ...],        # optional, GET query string
     "json": <any JSON>,                    # optional request body (sent as application/json)
     "raw_body": str,                       # optional raw body instead of "json"
     "headers": {...},                      # optional; a value of None removes the header
     "capture": {"var": "dotted.path"},     # optional; path into the response JSON,
                                            #   integer segments index lists
     "keep_times": True | [key, ...]}       # optional; do not mask these time values

"{var}" placeholders inside path / query / json / raw_body strings are replaced with
captured values; "{uniq}" is a unique suffix generated per scenario per replay.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import requests

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Keys whose values are always ids or digests (exact replacement even when all digits: an
# 8-character hex digest is, about once in 40 datasets).
_ID_KEYS = {"experiment_id", "run_id", "run_uuid", "experiment_ids", "run_ids", "digest"}
_URI_KEYS = {"artifact_uri", "artifact_location", "root_uri"}
_TOKEN_KEYS = {"next_page_token", "page_token"}
_EXACT_TIME_KEYS = {
    "start_time",
    "end_time",
    "creation_time",
    "last_update_time",
    "created_at",
    "last_updated_at",
}
_TIME_SUFFIXES = ("time", "timestamp", "_time", "timestamp_ms", "time_ms")


def _is_time_key(key: str) -> bool:
    return key in _EXACT_TIME_KEYS or key.endswith(_TIME_SUFFIXES)


# --------------------------------------------------------------------------- substitution
def substitute(obj: Any, variables: dict[str, str]) -> Any:
    """Replace "{var}" placeholders in every string inside ``obj`` (keys included)."""
    if isinstance(obj, str):

        def repl(m: re.Match) -> str:
            name = m.group(1)
            if name in variables and variables[name] is not None:
                return str(variables[name])
            return m.group(0)

        return _PLACEHOLDER.sub(repl, obj)
    if isinstance(obj, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(substitute(v, variables) for v in obj)
    return obj


def _extract(body: Any, path: str) -> Any:
    cur = body
    for seg in path.split("."):
        if isinstance(cur, list):
            cur = cur[int(seg)]
        elif isinstance(cur, dict):
            cur = cur[seg]
        else:
            raise KeyError(path)
    return cur


# --------------------------------------------------------------------------- normalisation
def _numeric_patterns(variables: dict[str, str]) -> list[tuple[re.Pattern, str]]:
    """Context-bound patterns for short numeric ids (experiment ids) inside free text.

    A bare "3" must not be replaced everywhere (messages contain limits like 250, 500 ...),
    so numeric ids are only replaced when they look like an id mention.
    """
    pats = []
    for name, value in variables.items():
        if not isinstance(value, str) or not value.isdigit():
            continue
        v = re.escape(value)
        pats.append(
            (
                re.compile(
                    r"(?i)((?:\bid\s*[=:]?\s*|\bexperiment\s+|\bexperiments?[/:]+|ids?\s*\[)"
                    r"['\"]?)" + v + r"(?![0-9A-Za-z])"
                ),
                r"\g<1>{" + name + "}",
            )
        )
        pats.append((re.compile(r"(['\"])" + v + r"\1"), r"\g<1>{" + name + r"}\g<1>"))
    return pats


def _normalise_str(s: str, variables: dict[str, str], key: str | None) -> str:
    # exact match first (any var, also short numeric ids when under an id key)
    for name, value in variables.items():
        if value is None or not isinstance(value, str) or value == "":
            continue
        if s == value and (not value.isdigit() or key in _ID_KEYS or key is None):
            return "{" + name + "}"
    # long / non numeric values (run ids, uniq suffix, generated names): substring replace,
    # longest values first so that a run id is not partly eaten by a shorter var.
    for name, value in sorted(variables.items(), key=lambda kv: -len(str(kv[1] or ""))):
        if not isinstance(value, str) or value == "" or value.isdigit():
            continue
        if value in s:
            s = s.replace(value, "{" + name + "}")
    if key in _URI_KEYS:
        # mlflow-artifacts:/<exp>/<run>/artifacts or file:///.../<exp>/...: replace path
        # segments equal to a captured numeric id.
        parts = s.split("/")
        for i, part in enumerate(parts):
            for name, value in variables.items():
                if isinstance(value, str) and value.isdigit() and part == value:
                    parts[i] = "{" + name + "}"
                    break
        s = "/".join(parts)
    else:
        for pat, rep in _numeric_patterns(variables):
            s = pat.sub(rep, s)
    return s


def _sort_key(item: Any) -> str:
    # key only: the sort is stable, so entries sharing a key (metric histories) keep the
    # server's order, which is part of what we record.
    return str(item.get("key", "")) if isinstance(item, dict) else ""


_LONG = 300  # strings longer than this are recorded as a digest (length + hash + ends)
_LONG_MESSAGE = 2000  # same for error messages (they echo long request values)


def _compact(s: str) -> str:
    digest = hashlib.sha256(s.encode("utf-8")).hexdigest()[:16]
    return f"<str len={len(s)} sha256={digest} head={s[:12]!r} tail={s[-12:]!r}>"


_HEX_ID = re.compile(r"(?<![0-9a-f])(?!0{32})[0-9a-f]{32}(?![0-9a-f])")
_EPOCH_MS = re.compile(r"(?<![0-9])1[6-9][0-9]{11}(?![0-9])")
_SQL_PARAMS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.S)


_SET_REPR = re.compile(r"\{('[^'{}]*'(?:, '[^'{}]*')+)\}")


def _sorted_set_repr(m: re.Match) -> str:
    items = re.findall(r"'[^']*'", m.group(1))
    return "{" + ", ".join(sorted(items)) + "}"


def _normalise_message(msg: str) -> str:
    """Extra masking for free-text error messages: raw SQL parameters, ids and epoch
    millis that were never captured (e.g. the id of a run whose INSERT failed), and Python
    set reprs (their order changes with hash randomisation) are sorted."""
    msg = _SET_REPR.sub(_sorted_set_repr, msg)
    msg = _SQL_PARAMS.sub("[parameters: <elided>]", msg)
    msg = _HEX_ID.sub("<uuid>", msg)
    return _EPOCH_MS.sub("<time>", msg)


def normalise(body: Any, captured_vars: dict[str, str], keep_times: bool | list = False) -> Any:
    """Normalise a response body so that it can be compared across servers and runs.

    * captured ids / names / the uniq suffix -> "{var}" placeholders
    * time-like keys -> "<time>" (unless ``keep_times`` is True or lists the key)
    * lists of {key, value} entries (params, tags, metrics, ...) sorted by key
    * error bodies reduced to error_code + message
    """
    variables = {k: v for k, v in captured_vars.items() if isinstance(v, str) and v != ""}

    def keep(key: str) -> bool:
        if keep_times is True:
            return True
        if isinstance(keep_times, (list, tuple, set)):
            return key in keep_times
        return False

    def walk(obj: Any, key: str | None = None) -> Any:
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if _is_time_key(k) and v is not None and not keep(k):
                    out[k] = "<time>"
                else:
                    out[k] = walk(v, k)
            return out
        if isinstance(obj, list):
            items = [walk(v, key) for v in obj]
            if items and all(isinstance(i, dict) and "key" in i for i in items):
                items = sorted(items, key=_sort_key)
            return items
        if key == "experiment_id" and type(obj) is int:
            # Scorers carry the experiment's id as a number: the server's count of experiments.
            return next((f"{{{name}}}" for name, value in variables.items() if value == str(obj)), obj)
        if isinstance(obj, str):
            if key in _TOKEN_KEYS:
                return obj  # page tokens are recorded verbatim (their format is of interest)
            out = _normalise_str(obj, variables, key)
            if is_error and key == "message":
                out = _normalise_message(out)
            limit = _LONG_MESSAGE if (is_error and key == "message") else _LONG
            return _compact(out) if len(out) > limit else out
        return obj

    is_error = isinstance(body, dict) and "error_code" in body
    if is_error:
        body = {k: body[k] for k in ("error_code", "message") if k in body}
    return walk(body)


# --------------------------------------------------------------------------- replay
def _send(session: requests.Session, base_url: str, step: dict, variables: dict) -> requests.Response:
    method = step["method"].upper()
    path = substitute(step["path"], variables)
    url = base_url.rstrip("/") + path
    query = step.get("query")
    if query is not None:
        query = substitute(query, variables)
        if isinstance(query, tuple):
            query = list(query)
    headers = {}
    data = None
    if "raw_body" in step:
        data = substitute(step["raw_body"], variables).encode("utf-8")
        headers["Content-Type"] = "application/json"
    elif "json" in step:
        data = json.dumps(substitute(step["json"], variables)).encode("utf-8")
        headers["Content-Type"] = "application/json"
    for k, v in (step.get("headers") or {}).items():
        if v is None:
            headers.pop(k, None)
            headers[k] = None  # tells requests to drop any default
        else:
            headers[k] = substitute(v, variables)
    return session.request(method, url, params=query, data=data, headers=headers, timeout=60)


def _decode(resp: requests.Response) -> Any:
    ctype = resp.headers.get("Content-Type", "")
    text = resp.text
    if "json" in ctype:
        try:
            return resp.json()
        except ValueError:
            return text
    return text


_AUTO_ID_KEYS = {"run_id": "_run", "run_uuid": "_run", "experiment_id": "_exp"}


def _auto_capture(raw: Any, variables: dict, step: dict, sent_body: str) -> None:
    """Register ids the scenario did not capture explicitly (e.g. a run created by a
    bad-input step that unexpectedly succeeded) as "_runN"/"_expN", and names generated by
    runs/create as "_nameN", so that nothing random leaks into the recording."""
    known = {v for v in variables.values() if isinstance(v, str)}

    def add(prefix: str, value: str) -> None:
        n = 1 + sum(1 for k in variables if k.startswith(prefix) and k[len(prefix) :].isdigit())
        variables[f"{prefix}{n}"] = value
        known.add(value)

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in _AUTO_ID_KEYS and isinstance(v, str) and v not in known and v not in ("", "0"):
                    add(_AUTO_ID_KEYS[k], v)
                elif (
                    k == "run_name"
                    and isinstance(v, str)
                    and v
                    and v not in known
                    and step["path"].endswith("runs/create")
                    and v not in sent_body
                ):
                    add("_name", v)
                else:
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(raw)


def run_scenario(base_url: str, steps: list[dict], session: requests.Session | None = None) -> list[dict]:
    session = session or requests.Session()
    variables: dict[str, str] = {"uniq": "u" + uuid.uuid4().hex[:9]}  # never all digits
    records = []
    for step in steps:
        sent_body = json.dumps(substitute(step.get("json"), variables)) + str(
            substitute(step.get("raw_body"), variables)
        )
        resp = _send(session, base_url, step, variables)
        raw = _decode(resp)
        capture_error = None
        for var, jpath in (step.get("capture") or {}).items():
            try:
                value = _extract(raw, jpath)
                variables[var] = value if isinstance(value, str) else json.dumps(value)
            except (KeyError, IndexError, ValueError, TypeError):
                capture_error = f"could not capture {var} from {jpath}"
        _auto_capture(raw, variables, step, sent_body)
        record = {
            "name": step["name"],
            "status": resp.status_code,
            "content_type": resp.headers.get("Content-Type", "").split(";")[0].strip(),
            "body": normalise(raw, variables, step.get("keep_times", False)),
        }
        if capture_error:
            record["capture_error"] = capture_error
        records.append(record)
    return records


def run_scenarios(base_url: str, scenarios) -> dict[str, list[dict]]:
    """Run every scenario; ``scenarios`` is a list of {"name", "steps"} dicts or a
    mapping name -> steps.  Returns {scenario name: [per step record, ...]}."""
    if isinstance(scenarios, dict):
        items = list(scenarios.items())
    else:
        items = [(s["name"], s["steps"]) for s in scenarios]
    session = requests.Session()
    return {name: run_scenario(base_url, steps, session) for name, steps in items}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} BASE_URL OUTPUT.json", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scenarios import SCENARIOS

    results = run_scenarios(argv[1], SCENARIOS)
    Path(argv[2]).write_text(json.dumps(results, indent=1, sort_keys=False, ensure_ascii=False) + "\n")
    n_steps = sum(len(v) for v in results.values())
    print(f"{len(results)} scenarios, {n_steps} steps -> {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
