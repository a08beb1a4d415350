"""Measures what opening a saved view adds to the experiment page (issue 16: "the runs table with
a saved view of 50 columns, grouped by a param, over 10,000 runs: server time under 150 ms").

    .venv/bin/python -m tests.perf.measure_saved_views [--runs 2000] [--columns 50]

Not part of the test suite. It fills a fresh database as tests.perf.measure_search_views does,
saves 20 views on the experiment (one of them: every metric column, grouped by a param, made the
default), starts the web server and reports server times (median of 7 GETs) of the same table
asked for three ways, in interleaved rounds: by its URL parameters, by `?view=<id>`, and as the
experiment's default; and the time the page spends reading the views out of the tags.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.perf.measure_search_views import ROOT, populate, web_server


def save_views(experiment_id: str, columns: int) -> str:
    from tracking.models import Experiment
    from tracking.queries.saved_views import ViewState
    from tracking.services.saved_views import save_view, set_default_view

    experiment = Experiment.objects.get(number=int(experiment_id))
    metric_columns = tuple(f"metrics.m{k:02d}" for k in range(columns))
    for index in range(19):
        save_view(experiment=experiment, name=f"other {index}", state=ViewState(columns=metric_columns[:10]))
    view = save_view(
        experiment=experiment,
        name="all metrics by optimizer",
        state=ViewState(columns=metric_columns, group="params.optimizer"),
    )
    set_default_view(experiment=experiment, view_id=view.id)
    return view.id


def parse_cost_ms(experiment_id: str) -> float:
    """What the page adds for the views: parsing them out of the tags it reads anyway."""
    from tracking.models import Experiment
    from tracking.queries.experiments import experiment_tags
    from tracking.queries.saved_views import views_from_tags

    experiment = Experiment.objects.get(number=int(experiment_id))
    tags = experiment_tags([experiment])[experiment.pk]
    began = time.perf_counter()
    for _ in range(100):
        views_from_tags(tags)
    return (time.perf_counter() - began) * 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="studio-saved-views-"))
    os.environ.setdefault("STUDIO_DATA_DIR", str(data))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    sys.path.insert(0, str(ROOT))
    wide, _ = populate(args.runs, args.columns)
    view_id = save_views(wide, args.columns)

    with web_server(args.port) as server:
        base = f"{server}/ws/default/experiments/{wide}/"
        session = requests.Session()

        def get(url):
            return lambda: session.get(url, timeout=120).raise_for_status()

        columns = "&".join(f"col=metrics.m{k:02d}" for k in range(args.columns))
        queries = {
            "by URL parameters": f"?{columns}&group=params.optimizer&view=",
            "by ?view=<id>": f"?view={view_id}",
            "as the default": "",
        }
        print(
            f"{args.runs:,} runs, {args.columns} metric columns grouped by params.optimizer, 20 saved views:"
        )
        print("  through the server (gunicorn, HTTP):")
        compare({way: get(f"{base}{query}") for way, query in queries.items()}, args.rounds)

    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    page = f"/ws/default/experiments/{wide}/"

    def call(url):
        def get() -> None:
            assert client.get(url).status_code == 200

        return get

    print("  in this process (Django's test client, the same views and queries, no HTTP):")
    compare({way: call(f"{page}{query}") for way, query in queries.items()}, args.rounds)
    print(f"  reading the 20 views out of the tags: {parse_cost_ms(wide):.2f} ms")


def compare(ways: dict[str, Callable[[], None]], rounds: int) -> None:
    """Median and least time of each way, in interleaved rounds, so that a busy moment of the
    machine weighs on every way alike."""
    timings: dict[str, list[float]] = {way: [] for way in ways}
    for call in ways.values():
        call()  # warm
    for _ in range(rounds):
        for way, call in ways.items():
            began = time.perf_counter()
            call()
            timings[way].append((time.perf_counter() - began) * 1000)
    first = statistics.median(next(iter(timings.values())))
    for way, values in timings.items():
        median = statistics.median(values)
        print(f"    {way:18} {median:6.0f} ms ({median - first:+5.1f} ms), least {min(values):.0f} ms")


if __name__ == "__main__":
    main()
