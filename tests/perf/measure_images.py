"""Measures issue 16's speed target for logged images: "a gallery of 1,000 logged images per key:
first paint under 1 s, the slider moving without a request per step after the first".

    .venv/bin/python -m tests.perf.measure_images [--steps 1000] [--keys 2] [--size 128]

Not part of the test suite (tests/browser/test_run_images.py keeps a lighter guard). It fills a
fresh data folder with a run of `--keys` keys of `--steps` images each (noisy gradients with a
moving square, `--size` pixels a side, written in MLflow's names straight into the artifact store,
with the client's 256 px WebP thumbnails) and a second run logging every tenth step, starts
`manage.py serve`, and reports from Chromium (Playwright):

- the Images tab: server time (median of 7 GETs), HTML bytes, first contentful paint, requests
  and bytes until every thumbnail is in memory, and requests while the slider steps through 50
  and then all steps (keyboard, as fast as it goes), and after it rests;
- the same for the comparison of the two runs.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.perf.overload import Server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FIRST_PAINT = """() => new Promise((resolve) => new PerformanceObserver((list) => {
  const entry = list.getEntriesByName("first-contentful-paint")[0];
  if (entry) resolve(entry.startTime);
}).observe({ type: "paint", buffered: true }))"""


def populate(keys: int, steps: int, size: int) -> tuple[str, str]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import numpy as np

    from tests.logged_images import log_images, png
    from tracking.models import Workspace
    from tracking.services.experiments import create_experiment
    from tracking.services.runs import create_run

    rng = np.random.default_rng(16)
    ramp = np.linspace(40, 215, size)[None, :, None]

    def draw(step: int) -> bytes:
        pixels = np.clip(ramp + rng.normal(0, 14, (size, size, 3)), 0, 255).astype(np.uint8)
        left = (size * 3 // 4) * (step % steps) // steps
        pixels[size // 3 : size // 3 + size // 4, left : left + size // 4] = (37, 99, 235)
        return png(pixels)

    workspace = Workspace.objects.get(name="default")
    experiment = create_experiment(workspace=workspace, name="images-perf")
    started = time.perf_counter()
    long = create_run(experiment=experiment, run_name=f"{steps}-steps")
    sparse = create_run(experiment=experiment, run_name="every-tenth")
    for key in range(keys):
        log_images(workspace, long, f"samples/{key}", range(steps), draw)
    log_images(workspace, sparse, "samples/0", range(0, steps, 10), draw)
    print(f"populated {keys} x {steps} images in {time.perf_counter() - started:.0f} s", flush=True)
    return long.uuid, sparse.uuid


def median_ms(session: requests.Session, url: str, repeats: int = 7) -> float:
    session.get(url, timeout=60).raise_for_status()
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        session.get(url, timeout=60).raise_for_status()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def measure_page(page, url: str, slider_selector: str, expected_thumbnails: int, steps: int) -> None:
    loaded: list = []
    page.on("requestfinished", lambda request: loaded.append(request))
    began = time.perf_counter()
    page.goto(url)
    paint = page.evaluate(FIRST_PAINT)
    timing = page.evaluate("JSON.parse(JSON.stringify(performance.getEntriesByType('navigation')[0]))")
    page.wait_for_function(f"window.studioImages.thumbnails >= {expected_thumbnails}", timeout=120_000)
    all_in = (time.perf_counter() - began) * 1000
    sizes = [request.sizes()["responseBodySize"] for request in loaded]
    print(
        f"  first contentful paint: {paint:.0f} ms (target < 1,000 ms); HTML received after "
        f"{timing['responseEnd']:.0f} ms, DOMContentLoaded {timing['domContentLoadedEventEnd']:.0f} ms"
    )
    print(
        f"  every thumbnail in memory after {all_in:.0f} ms: {len(loaded)} requests, "
        f"{sum(sizes) / 1e6:.1f} MB ({sum('thumbnails?' in r.url for r in loaded)} thumbnail bundles)"
    )
    seen: list[str] = []
    page.on("request", lambda request: request.url.startswith("http") and seen.append(request.url))
    page.locator(slider_selector).first.focus()
    page.keyboard.press("End")
    for count in (50, steps - 51):
        seen.clear()
        began = time.perf_counter()
        for _ in range(count):
            page.keyboard.press("ArrowLeft")
        took = (time.perf_counter() - began) * 1000
        print(
            f"  {count} steps in {took:.0f} ms ({took / count:.1f} ms a step): {len(seen)} requests while moving"
        )
        for url in seen:
            print(f"    {url.partition('/images/')[2][:60] or url}")
    seen.clear()
    page.wait_for_timeout(1000)
    print(f"  at rest: {len(seen)} request(s) (the full image of the step shown)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument(
        "--reuse", help="the data folder of an earlier run of this script and its runs: DIR:RUN,RUN"
    )
    args = parser.parse_args()
    folder, _, ids = (args.reuse or "").partition(":")
    data = Path(folder or tempfile.mkdtemp(prefix="studio-images-"))
    os.environ.setdefault("STUDIO_DATA_DIR", str(data))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    sys.path.insert(0, str(ROOT))
    long, sparse = ids.split(",") if ids else populate(args.keys, args.steps, args.size)
    print(f"to measure again without filling: --reuse {data}:{long},{sparse}", flush=True)

    server = Server(data, args.port, {"STUDIO_DATA_DIR": str(data)})
    server.start()
    base = server.url
    try:
        session = requests.Session()
        tab = f"{base}/ws/default/runs/{long}/images/"
        compare = f"{base}/ws/default/compare/?runs={long},{sparse}"
        html = session.get(tab, timeout=60)
        print(
            f"Images tab, {args.keys} keys x {args.steps} steps: server {median_ms(session, tab):.0f} ms, "
            f"{len(html.content) / 1e3:.0f} kB of HTML ({html.headers.get('Content-Encoding', 'identity')}, "
            f"{len(gzip.compress(html.content)) / 1e3:.0f} kB gzipped)"
        )
        print(f"Comparison of two runs: server {median_ms(session, compare):.0f} ms")

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/ws/default/experiments/")  # a first page, so start-up costs are not counted
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            print("Images tab in Chromium:")
            measure_page(page, tab, ".image-slider", args.keys * args.steps, args.steps)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            print("Comparison in Chromium (the key both runs logged first):")
            sparse_count = len(range(0, args.steps, 10))
            measure_page(page, compare, ".image-slider", args.keys * args.steps + sparse_count, args.steps)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
