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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.upstream import report
from tests.upstream.targets import STARTERS, TARGETS

HERE = Path(__file__).resolve().parent
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
    """A folder with MLflow's tests/ and pyproject.toml, and without its mlflow/ package."""
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


def run_pytest(target, sources: Path, paths: list[Path], arguments, junit: Path, log: Path) -> int:
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
        # A server error fails the call at once on both targets, instead of after minutes of
        # retries with backoff.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        "MLFLOW_DISABLE_TELEMETRY": "true",  # nothing leaves the machine
    }
    # The target's folder: MLflow's server runs there too, as its tests expect of a server started
    # in-process (a relative artifact location resolves against the working folder).
    with log.open("wb") as output:
        return subprocess.run(
            command, cwd=target.folder, env=environment, stdout=output, stderr=subprocess.STDOUT
        ).returncode


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
        junit, log = workdir / f"{name}.junit.xml", workdir / f"{name}.pytest.log"
        print(f"[upstream] {name}: starting the server in {workdir / name}", flush=True)
        with STARTERS[name](workdir / name) as target:
            print(f"[upstream] {name}: {target.url}; pytest log: {log}", flush=True)
            run_pytest(target, sources, paths, arguments, junit, log)
        results[name] = report.read_junit(junit)
        minutes = (time.monotonic() - started) / 60
        notes.append(f"{name}: {len(results[name])} tests in {minutes:.1f} min (log: {log})")
        print(f"[upstream] {name}: {len(results[name])} tests in {minutes:.1f} min", flush=True)
    module_names = [str(path.relative_to(sources)) for path in paths]
    report_path.write_text(report.render(results, module_names, notes))
    print(f"[upstream] report: {report_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
