"""Runs MLflow's live-server test modules against our server and against `mlflow server`.

    python -m tests.upstream <mlflow checkout> [--target ours|mlflow|both] [--modules NAME ...]
                             [-k EXPRESSION] [--report FILE]

<mlflow checkout> is a folder with MLflow's `tests/` (and its pyproject.toml, for MLflow's pytest
configuration), or a bare git repository of MLflow, whose `tests/` and pyproject.toml at
`--revision` (master) are extracted first. Nothing is fetched: the tests import the installed
`mlflow` client, never a checkout's `mlflow/`.

For each target the script starts the server fresh (tests/upstream/targets.py), runs pytest on the
modules with mlflow_target_plugin (which swaps MLflow's server fixtures for the target and resets it
between tests), and reads the outcomes from JUnit XML; then writes the side-by-side report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.upstream import report
from tests.upstream.targets import STARTERS, TARGETS

HERE = Path(__file__).resolve().parent
MAX_SERVER_STARTS = 12
DEFAULT_MODULES = ("test_rest_tracking", "test_model_registry", "test_mlflow_artifacts")
# Settings of the run's own environment that would point the server at something else than what
# `make run` uses (a PostgreSQL database, a Redis broker, another data folder).
SERVER_SETTINGS_PREFIXES = ("STUDIO_", "DATABASE_URL", "CELERY_", "DJANGO_SETTINGS_MODULE", "MLFLOW_")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.upstream", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkout", type=Path, help="MLflow's sources: a folder with tests/, or a bare git repository"
    )
    parser.add_argument("--target", choices=(*TARGETS, "both"), default="both")
    parser.add_argument("--modules", nargs="+", default=list(DEFAULT_MODULES),
                        help="test modules under tests/tracking/ (names or paths)")  # fmt: skip
    parser.add_argument("-k", dest="keyword", help="pytest's -k expression")
    parser.add_argument(
        "--report", type=Path, help="where to write the markdown report (default: in --workdir)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="servers' folders, logs and JUnit files (default: a new temp folder)"
    )
    parser.add_argument("--revision", default="master", help="what to extract from a bare repository")
    parser.add_argument("--test-timeout", type=int, default=120, help="seconds per test phase")
    parser.add_argument("--workers", default="1", help="pytest-xdist's -n")
    return parser.parse_args(argv)


def mlflow_sources(checkout: Path, revision: str, workdir: Path) -> Path:
    """A folder with MLflow's tests/ and pyproject.toml: the checkout itself (its mlflow/ package,
    if any, is never imported: the plugin binds the installed one first), or what is extracted
    from a bare repository."""
    checkout = checkout.resolve()
    if (checkout / "tests" / "tracking").is_dir():
        return checkout
    if (checkout / "HEAD").is_file() and (checkout / "objects").is_dir():
        sources = workdir / "mlflow-src"
        sources.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(checkout), "archive", revision, "tests", "pyproject.toml"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(sources)], input=archive.stdout, check=True)
        return sources
    raise SystemExit(f"{checkout} has no tests/tracking/ and is not a bare git repository")


def module_paths(sources: Path, modules: list[str]) -> list[Path]:
    paths = []
    for module in modules:
        path = Path(module)
        if not path.suffix:
            path = Path("tests", "tracking", f"{module}.py")
        path = path if path.is_absolute() else sources / path
        if not path.is_file():
            raise SystemExit(f"no test module {path}")
        paths.append(path)
    return paths


def run_pytest(target, sources: Path, paths: list[Path], arguments, run: Path, done: set[str]) -> Path:
    """One pytest run on `target`, leaving out the tests in `done`; its JUnit XML file."""
    junit, log, done_file = (Path(f"{run}{suffix}") for suffix in (".junit.xml", ".pytest.log", ".done"))
    done_file.write_text("\n".join(sorted(done)))
    command = [
        sys.executable, "-m", "pytest",
        "-p", "mlflow_target_plugin", "-p", "no:cacheprovider", "-p", "no:django",
        "--rootdir", str(sources), "-n", arguments.workers, "--color=no",
        "--junitxml", str(junit), "-o", "junit_family=xunit1",
    ]  # fmt: skip
    if (sources / "pyproject.toml").is_file():
        command += ["-c", str(sources / "pyproject.toml")]
    if arguments.keyword:
        command += ["-k", arguments.keyword]
    command += [str(path) for path in paths]
    environment = {
        **os.environ,
        **target.environment(),
        "PYTHONPATH": str(HERE),  # the plugin; MLflow's `tests` comes from --rootdir
        "UPSTREAM_TEST_TIMEOUT": str(arguments.test_timeout),
        "UPSTREAM_DONE_FILE": str(done_file),
        # A server error fails the call at once on both targets, instead of after minutes of
        # retries with backoff.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        "MLFLOW_DISABLE_TELEMETRY": "true",  # nothing leaves the machine
    }
    # The target's folder: MLflow's server runs there too, as its tests expect of a server started
    # in-process (a relative artifact location resolves against the working folder).
    with log.open("wb") as output:
        subprocess.run(command, cwd=target.folder, env=environment, stdout=output, stderr=subprocess.STDOUT)
    return junit


def run_on(name: str, sources: Path, paths: list[Path], arguments, workdir: Path) -> tuple[dict, list[str]]:
    """Every test's outcome on a target, and what happened to its server.

    A server that stops during the run is started again, fresh, and the tests it could not answer
    run on the new one. (Ours does, in laptop mode: kombu's filesystem broker lets the worker read
    a message file beat has created but not written yet; the worker dies on the empty JSON, and
    `serve` stops with it.)"""
    outcomes: dict = {}
    events: list[str] = []
    for attempt in range(1, MAX_SERVER_STARTS + 1):
        run = workdir / f"{name}.{attempt}"
        print(f"[upstream] {name}: starting the server in {workdir / name} (start {attempt})", flush=True)
        shutil.rmtree(workdir / name, ignore_errors=True)
        with STARTERS[name](workdir / name) as target:
            print(f"[upstream] {name}: {target.url}; pytest log: {run}.pytest.log", flush=True)
            done = {f"{module}::{test}" for module, test in outcomes}
            junit = run_pytest(target, sources, paths, arguments, run, done)
            survived = target.alive()
            if not survived:
                server_log = workdir / f"{name}.{attempt}.server.log"
                shutil.copy(target.log_path, server_log)
        outcomes.update(report.read_junit(junit))
        if survived:
            break
        events.append(
            f"{name}: the server stopped during run {attempt} (its log: {server_log}); started again"
        )
        outcomes = {key: outcome for key, outcome in outcomes.items() if not report.unanswered(outcome)}
    return outcomes, events


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workdir = (arguments.workdir or Path(tempfile.mkdtemp(prefix="upstream-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    report_path = (arguments.report or workdir / "report.md").resolve()
    for name in [name for name in os.environ if name.startswith(SERVER_SETTINGS_PREFIXES)]:
        del os.environ[name]
    sources = mlflow_sources(arguments.checkout, arguments.revision, workdir)
    paths = module_paths(sources, arguments.modules)
    targets = TARGETS if arguments.target == "both" else (arguments.target,)

    import mlflow

    results: dict[str, dict] = {}
    notes = [
        f"client and `mlflow server`: mlflow {mlflow.__version__}; tests from {arguments.checkout}"
        + (f" ({arguments.revision})" if sources != arguments.checkout.resolve() else ""),
        f"modules: {', '.join(str(p.relative_to(sources)) for p in paths)}"
        + (f"; -k {arguments.keyword}" if arguments.keyword else ""),
    ]
    for name in targets:
        started = time.monotonic()
        results[name], events = run_on(name, sources, paths, arguments, workdir)
        minutes = (time.monotonic() - started) / 60
        notes += events
        notes.append(
            f"{name}: {len(results[name])} tests in {minutes:.1f} min (pytest logs: {workdir}/{name}.*)"
        )
        print(f"[upstream] {name}: {len(results[name])} tests in {minutes:.1f} min", flush=True)
    module_names = [str(path.relative_to(sources)) for path in paths]
    report_path.write_text(report.render(results, module_names, notes))
    print(f"[upstream] report: {report_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
