"""Playwright driving Debian's Chromium against a live server; screenshots go to docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the tests also touch the database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "tests/browser/" in str(item.fspath)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("STUDIO_REQUIRE_BROWSER"):
            raise pytest.UsageError(
                f"STUDIO_REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install chromium)"
            )
        skip = pytest.mark.skip(
            reason=f"{CHROMIUM} is not installed: apt-get install chromium to run browser tests"
        )
        for item in browser_items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def screenshot():
    def take(page, name: str, *, width: int | None = None) -> Path:
        """The page as it is, full length; `width` wide (then back) for a wide table."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        viewport = page.viewport_size
        if width:
            page.set_viewport_size({"width": width, "height": viewport["height"]})
        page.screenshot(path=str(path), full_page=True)
        if width:
            page.set_viewport_size(viewport)
        return path

    return take


@pytest.fixture
def tracing(deployed):
    """The fluent API (tracing, GenAI) pointed at the live server, reset afterwards."""
    import mlflow

    mlflow.set_tracking_uri(deployed.url)
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    for variable in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(variable, None)
