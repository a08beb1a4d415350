"""The side-by-side runner of MLflow's own tests (tests/upstream/): how it resets a target between
tests, and how it reads and compares outcomes. (The runner itself needs MLflow's test sources and
runs outside `make test`: `python -m tests.upstream`.)"""

from __future__ import annotations

import sqlite3

from tests.upstream import report
from tests.upstream.mlflow_target_plugin import TARGET_DOWN, restore_sqlite


def _database(path, rows):
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE experiments (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
        CREATE TABLE spans (id INTEGER PRIMARY KEY, content TEXT,
                            size INTEGER GENERATED ALWAYS AS (length(content)) VIRTUAL);
        """
    )
    connection.executemany("INSERT INTO experiments (name) VALUES (?)", [(name,) for name in rows])
    connection.commit()
    connection.close()


def test_a_reset_puts_back_the_first_rows_and_only_them_generated_columns_included(tmp_path):
    live, pristine = tmp_path / "live.sqlite3", tmp_path / "pristine.sqlite3"
    _database(live, ["Default"])
    _database(pristine, ["Default"])
    connection = sqlite3.connect(live)
    connection.executemany("INSERT INTO experiments (name) VALUES (?)", [("a",), ("b",)])
    connection.execute("INSERT INTO spans (content) VALUES ('four')")
    connection.commit()

    restore_sqlite(live, pristine)

    assert connection.execute("SELECT id, name FROM experiments").fetchall() == [(1, "Default")]
    assert connection.execute("SELECT count(*) FROM spans").fetchone() == (0,)
    # Ids start again where they did: a test sees the ids it would on a fresh server.
    connection.execute("INSERT INTO experiments (name) VALUES ('c')")
    assert connection.execute("SELECT id FROM experiments WHERE name = 'c'").fetchone() == (2,)
    connection.close()


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.tracking.test_rest_tracking" name="test_passes[sqlalchemy]"/>
  <testcase classname="tests.tracking.test_rest_tracking" name="test_fails[sqlalchemy]">
    <failure message="AssertionError: assert 404 == 200&#10;second line">trace</failure></testcase>
  <testcase classname="tests.tracking.test_rest_tracking" name="test_errs[sqlalchemy]">
    <error message="failed on setup with &quot;boom&quot;">trace</error></testcase>
  <testcase classname="tests.tracking.test_rest_tracking" name="test_inspects_the_store">
    <skipped type="pytest.skip" message="not applicable: reads MLflow's SQL store">why</skipped></testcase>
  <testcase classname="tests.tracking.test_rest_tracking" name="test_xfails">
    <skipped type="pytest.xfail" message="not supported yet">why</skipped></testcase>
  <testcase classname="tests.tracking.test_rest_tracking" name="test_met_a_stopped_server">
    <skipped type="pytest.skip" message="{down}">why</skipped></testcase>
</testsuite></testsuites>
""".replace("{down}", TARGET_DOWN)


def test_outcomes_are_read_with_the_first_line_of_each_failure(tmp_path):
    (tmp_path / "run.xml").write_text(JUNIT)

    outcomes = report.read_junit(tmp_path / "run.xml")

    module = "tests/tracking/test_rest_tracking.py"
    assert {test: (o.result, o.detail) for (_, test), o in outcomes.items()} == {
        "test_passes[sqlalchemy]": ("passed", ""),
        "test_fails[sqlalchemy]": ("failed", "AssertionError: assert 404 == 200"),
        "test_errs[sqlalchemy]": ("errored", 'failed on setup with "boom"'),
        "test_inspects_the_store": ("n/a", "not applicable: reads MLflow's SQL store"),
        "test_xfails": ("skipped", "not supported yet"),
        "test_met_a_stopped_server": ("skipped", TARGET_DOWN),
    }
    assert all(o.module == module for o in outcomes.values())
    assert [test for (_, test), o in outcomes.items() if report.unanswered(o)] == [
        "test_met_a_stopped_server"
    ]


def test_the_report_lists_what_passes_against_mlflow_and_fails_against_us(tmp_path):
    module = "tests/tracking/test_rest_tracking.py"

    def outcomes(**results):
        return {
            (module, test): report.Outcome(module, test, result, detail)
            for test, (result, detail) in results.items()
        }

    ours = outcomes(
        a=("failed", "assert 404 == 200"), b=("passed", ""), c=("failed", "same"), d=("n/a", "why")
    )
    theirs = outcomes(a=("passed", ""), b=("passed", ""), c=("failed", "same"), d=("passed", ""))

    rendered = report.render({"ours": ours, "mlflow": theirs}, [module], notes=[])

    assert "| test_rest_tracking.py | 1 | 2 | 0 | 0 | 1 | 3 | 1 | 0 | 0 | 0 |" in rendered
    differences = rendered.split("## Pass against MLflow, fail against us (1)")[1].split("##")[0]
    assert differences.strip() == f"- `{module}::a` (failed): assert 404 == 200"
    assert "## Not applicable to us only (1)" in rendered
