"""Outcomes of one pytest run (its JUnit XML), and the side-by-side report of two.

An outcome is one of passed, failed, errored (in setup or teardown), skipped, or not applicable (a
skip whose reason starts with "not applicable", from mlflow_target_plugin).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.upstream.mlflow_target_plugin import NOT_APPLICABLE, TARGET_DOWN

OUTCOMES = ("passed", "failed", "errored", "skipped", "n/a")
FAILED = ("failed", "errored")


@dataclass(frozen=True)
class Outcome:
    module: str  # tests/tracking/test_rest_tracking.py
    test: str  # test_create_get_search_experiment[sqlalchemy]
    result: str  # one of OUTCOMES
    detail: str  # the first line of the failure, or the skip's reason


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return re.sub(r"\s+", " ", line.strip())
    return ""


def read_junit(path: Path) -> dict[tuple[str, str], Outcome]:
    """The outcome of every test case in a JUnit XML file, by (module, test)."""
    if not path.exists():
        return {}
    outcomes: dict[tuple[str, str], Outcome] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        test = case.get("name", "")
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if failure is not None:
            result, detail = "failed", _message(failure)
        elif error is not None:
            result, detail = "errored", _message(error)
        elif skipped is not None:
            detail = _message(skipped)
            result = "n/a" if detail.removeprefix("Skipped: ").startswith(NOT_APPLICABLE) else "skipped"
        else:
            result, detail = "passed", ""
        outcomes[module, test] = Outcome(module, test, result, detail)
    return outcomes


def unanswered(outcome: Outcome) -> bool:
    """Whether a test met a server that had stopped (skipped at its reset, or refused its
    connection): its outcome says nothing about the target."""
    return TARGET_DOWN in outcome.detail or (
        outcome.result in FAILED
        and ("Connection refused" in outcome.detail or "NewConnectionError" in outcome.detail)
    )


def _message(element) -> str:
    return first_line(element.get("message")) or first_line(element.text)


def _counts_table(results: dict[str, dict[tuple[str, str], Outcome]], modules: list[str]) -> list[str]:
    targets = list(results)
    header = (
        "| module | "
        + " | ".join(f"{target}: {outcome}" for target in targets for outcome in OUTCOMES)
        + " |"
    )
    lines = [header, "|---" * (1 + len(targets) * len(OUTCOMES)) + "|"]
    totals = {target: Counter() for target in targets}
    for module in modules:
        row = [Path(module).name]
        for target in targets:
            counts = Counter(o.result for o in results[target].values() if o.module == module)
            totals[target].update(counts)
            row += [str(counts[outcome]) for outcome in OUTCOMES]
        lines.append("| " + " | ".join(row) + " |")
    total = ["**total**"] + [f"**{totals[t][outcome]}**" for t in targets for outcome in OUTCOMES]
    lines.append("| " + " | ".join(total) + " |")
    return lines


def differences(ours: dict, theirs: dict) -> list[tuple[Outcome, Outcome]]:
    """Tests that pass against MLflow and fail or error against us, in module order."""
    return [
        (ours[key], theirs[key])
        for key in sorted(theirs)
        if theirs[key].result == "passed" and key in ours and ours[key].result in FAILED
    ]


def render(results: dict[str, dict[tuple[str, str], Outcome]], modules: list[str], notes: list[str]) -> str:
    lines = ["# MLflow's live-server tests against each target", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Outcomes", ""]
    lines += _counts_table(results, modules)
    if "ours" in results and "mlflow" in results:
        ours, theirs = results["ours"], results["mlflow"]
        found = differences(ours, theirs)
        lines += ["", f"## Pass against MLflow, fail against us ({len(found)})", ""]
        lines += [f"- `{o.module}::{o.test}` ({o.result}): {o.detail}" for o, _ in found]
        reverse = [
            (ours[key], theirs[key])
            for key in sorted(ours)
            if ours[key].result == "passed" and key in theirs and theirs[key].result in FAILED
        ]
        lines += ["", f"## Pass against us, fail against MLflow ({len(reverse)})", ""]
        lines += [f"- `{t.module}::{t.test}` ({t.result}): {t.detail}" for _, t in reverse]
        not_applicable = [
            ours[key]
            for key in sorted(ours)
            if ours[key].result == "n/a" and key in theirs and theirs[key].result != "n/a"
        ]
        lines += ["", f"## Not applicable to us only ({len(not_applicable)})", ""]
        lines += [
            f"- `{o.module}::{o.test}` (MLflow: {theirs[o.module, o.test].result}): "
            f"{o.detail.removeprefix('Skipped: ')}"
            for o in not_applicable
        ]
    for target, outcomes in results.items():
        failing = [o for o in outcomes.values() if o.result in FAILED]
        lines += ["", f"## All failures against {target} ({len(failing)})", ""]
        lines += [f"- `{o.module}::{o.test}` ({o.result}): {o.detail}" for o in sorted(failing, key=_key)]
    return "\n".join(lines) + "\n"


def _key(outcome: Outcome) -> tuple[str, str]:
    return outcome.module, outcome.test
