"""Images logged per step in a real browser: the Images tab's slider steps through the images
from thumbnails held in memory (no request per step), the full image comes when the slider rests,
and the comparison shows the runs side by side on one slider. Also the speed guard: a key of
1,000 steps paints in under a second."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.logged_images import log_images, moving_square
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run

SHOWN = "(card) => card.querySelector('.image-view').src"
FIRST_PAINT = """() => new Promise((resolve) => new PerformanceObserver((list) => {
  const entry = list.getEntriesByName("first-contentful-paint")[0];
  if (entry) resolve(entry.startTime);
}).observe({ type: "paint", buffered: true }))"""


def tinted(step: int) -> bytes:
    """A moving square on a warmer background, so the two keys look apart."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.array(Image.open(io.BytesIO(moving_square(step, size=96))))
    pixels[(pixels == (241, 245, 249)).all(axis=2)] = (254, 243, 199)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def blob(step: int) -> bytes:
    """A soft spot that grows with the step, like an attention map."""
    import numpy as np

    from tests.logged_images import png

    y, x = np.mgrid[0:96, 0:96]
    spread = 6 + step / 3
    heat = np.exp(-((x - 60) ** 2 + (y - 40) ** 2) / (2 * spread**2))
    pixels = np.stack([255 * heat, 80 + 120 * heat, 160 * (1 - heat) + 60], axis=2)
    return png(pixels.astype(np.uint8))


@pytest.fixture
def studio(deployed):
    return deployed.url


@pytest.fixture
def experiment(studio):
    from tracking.models import Workspace

    return create_experiment(workspace=Workspace.objects.get(name="default"), name="segmentation")


@pytest.fixture
def runs(experiment):
    """unet-small logs every step 0-59 of two keys and every other of a third; unet-large every
    fifth step of one."""
    small = create_run(experiment=experiment, run_name="unet-small", user_id="ada")
    log_images(
        experiment.workspace, small, "val/predictions", range(60), lambda step: moving_square(step, 96)
    )
    log_images(experiment.workspace, small, "train/samples", range(60), tinted)
    log_images(experiment.workspace, small, "val/attention", range(0, 60, 2), blob)
    large = create_run(experiment=experiment, run_name="unet-large", user_id="ada")
    log_images(
        experiment.workspace,
        large,
        "val/predictions",
        range(0, 60, 5),
        lambda step: moving_square(step + 7, 96),
    )
    for run in (small, large):
        update_run(run=run, status="FINISHED")
    return small, large


def requests_while(page, action) -> list[str]:
    """The URLs the page asked the server for while `action` ran (blob: URLs are memory)."""
    seen: list[str] = []
    listen = lambda request: request.url.startswith("http") and seen.append(request.url)  # noqa: E731
    page.on("request", listen)
    try:
        action()
    finally:
        page.remove_listener("request", listen)
    return seen


def test_the_slider_steps_through_the_images_without_a_request_per_step(page, studio, runs, screenshot):
    small, _ = runs
    page.goto(f"{studio}/ws/default/runs/{small.uuid}/images/")
    expect(page.get_by_role("link", name="Images")).to_have_attribute("aria-current", "page")
    card = page.locator("[data-image-card]", has_text="val/predictions")
    expect(card.locator("[data-field=step]")).to_have_text("59")
    page.wait_for_function("window.studioImages.thumbnails === 150")  # every key's, in bundles

    slider = card.get_by_role("slider")
    slider.focus()
    shown: list[str] = []

    def step_through() -> None:
        page.keyboard.press("Home")
        for _ in range(50):
            page.keyboard.press("ArrowRight")
            shown.append(card.evaluate(SHOWN))

    during = requests_while(page, step_through)
    assert during == []
    assert len(set(shown)) == 50 and all(src.startswith("blob:") for src in shown)
    expect(card.locator("[data-field=step]")).to_have_text("50")
    expect(slider).to_have_attribute("aria-valuetext", "step 50")
    expect(card.locator("[data-field=time]")).to_contain_text(":")

    # At rest, the full image of step 50 replaces its thumbnail: one request, once.
    page.wait_for_function(
        "(card) => card.querySelector('.image-view').src.includes('%2Bstep%2B50%2B')",
        arg=card.element_handle(),
    )
    again = requests_while(
        page,
        lambda: (
            page.keyboard.press("ArrowLeft"),
            page.keyboard.press("ArrowRight"),
            page.wait_for_timeout(600),
        ),
    )
    assert [url for url in again if "/images/" in url] == []  # cached for good

    card.get_by_role("button", name="Previous step of val/predictions").click()
    expect(card.locator("[data-field=step]")).to_have_text("49")
    page.wait_for_function(
        "(card) => card.querySelector('.image-view').src.includes('%2Bstep%2B49%2B')",
        arg=card.element_handle(),
    )
    screenshot(page, "run-images-slider")


def test_the_comparison_shows_the_runs_side_by_side_on_one_slider(page, studio, runs, screenshot):
    small, large = runs
    page.goto(f"{studio}/ws/default/compare/?runs={small.uuid},{large.uuid}")
    section = page.locator("[data-image-compare]", has_text="val/predictions")
    expect(section.locator("figure")).to_have_count(2)
    expect(page.locator("[data-image-compare]", has_text="train/samples").locator("figure")).to_have_count(1)
    section.scroll_into_view_if_needed()  # thumbnails are fetched for the cards near the viewport
    page.wait_for_function("window.studioImages.thumbnails === 162")

    slider = section.get_by_role("slider")
    slider.focus()
    page.keyboard.press("Home")
    during = requests_while(page, lambda: [page.keyboard.press("ArrowRight") for _ in range(17)])
    assert during == []
    expect(section.locator("[data-field=step]")).to_have_text("17")
    panels = section.locator("[data-field=at]")
    expect(panels.nth(0)).to_have_text("step 17")
    expect(panels.nth(1)).to_have_text("step 15 (nearest earlier)")
    section.scroll_into_view_if_needed()
    screenshot(page, "compare-images")


def test_a_key_of_a_thousand_steps_paints_in_under_a_second(page, studio, experiment):
    run = create_run(experiment=experiment, run_name="long")
    log_images(
        experiment.workspace, run, "samples", range(1000), lambda step: moving_square(step, 32, of=1000)
    )

    page.goto(f"{studio}/ws/default/runs/{run.uuid}/images/")
    paint = page.evaluate(FIRST_PAINT)
    assert paint < 1000, f"first paint after {paint:.0f} ms"
    page.wait_for_function("window.studioImages.thumbnails === 1000", timeout=30_000)
    card = page.locator("[data-image-card]")
    card.get_by_role("slider").focus()
    during = requests_while(page, lambda: [page.keyboard.press("ArrowLeft") for _ in range(50)])
    assert during == []
    assert card.evaluate(SHOWN).startswith("blob:")
    expect(card.locator("[data-field=step]")).to_have_text("949")
