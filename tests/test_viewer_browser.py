"""End to end in a real browser: start the viewer, upload a photo, wait for the mask, screenshot.

Needs Debian's chromium + chromium-driver and selenium; skips (saying what to install) where
they are missing. Deselect with `-m "not browser"`.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from PIL import Image

from segtf.viewer import browser

pytestmark = pytest.mark.browser
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "apps" / "examples" / "street_person.jpg"


@pytest.fixture(scope="module")
def viewer_url(tmp_path_factory):
    reason = browser.missing_browser()
    if reason:
        pytest.skip(f"no browser for the end-to-end test: {reason}")
    from segtf.viewer.testing import make_tiny_zoo

    zoo = tmp_path_factory.mktemp("zoo")
    make_tiny_zoo(zoo, foreground=False)
    with browser.serve_viewer(zoo) as url:
        yield url


def test_upload_shows_the_result_in_chromium(viewer_url, tmp_path):
    from selenium.webdriver.common.by import By

    with browser.chromium() as driver:
        browser.upload_and_wait(driver, viewer_url, EXAMPLE)
        mask = driver.find_element(By.CSS_SELECTOR, browser.RESULT_SELECTOR)
        assert mask.is_displayed()
        assert driver.execute_script("return arguments[0].naturalWidth", mask) > 0
        assert "Classes in this image" in driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
        shot = browser.screenshot(driver, tmp_path / "viewer_e2e.png")
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width >= 1000


def test_keyboard_only_example_at_phone_width(viewer_url):
    with browser.chromium(width=420, height=900) as driver:
        driver.get(viewer_url)
        browser.press_by_keyboard(driver, "Street person")
        browser.wait_for_result(driver)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 520


ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.parent for p in (ROOT / "models").glob("*/config.json"))


@pytest.fixture(scope="module")
def shipped_viewer_url():
    reason = browser.missing_browser()
    if reason:
        pytest.skip(f"no browser for the end-to-end test: {reason}")
    with browser.serve_viewer(ROOT / "models") as url:
        yield url


def _legend_shown(driver) -> dict[str, str]:
    """{class name: share text} from the first legend on the page (the main result's; the
    upload waited for it)."""
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.CSS_SELECTOR, browser.LEGEND_SELECTOR)
    rows = [r.find_elements(By.TAG_NAME, "td") for r in table.find_elements(By.TAG_NAME, "tr")]
    return {cells[0].text.strip(): cells[1].text.strip() for cells in rows if cells}


def _legend_expected(model_dir: pathlib.Path, photo: pathlib.Path):
    """The same photo through the same model outside the page: decoded, shrunk and thresholded
    as the page does."""
    from segtf.viewer import compose, inputs, legend, models, runner

    entry = next(e for e in models.list_entries(model_dir.parent) if e.path == model_dir)
    image = inputs.decode_upload(photo.read_bytes(), photo.name)
    result = runner.run(runner.load_segmenter(str(model_dir)), image)
    view = compose.make_views(result.labels, result.alpha, entry.palette, 0.5)
    return legend.class_areas(view.labels, entry.class_names, view.palette)


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda p: p.name)
def test_each_shipped_models_legend_matches_its_result(shipped_viewer_url, model_dir):
    """A real photo through each shipped model in the browser: the legend names exactly the
    classes of the model's own result, each with its share of the image."""
    photo = ROOT / "apps" / "examples" / "street_person.jpg"
    with browser.chromium() as driver:
        browser.upload_and_wait(driver, shipped_viewer_url, photo, model=model_dir.name)
        shown = _legend_shown(driver)
    expected = _legend_expected(model_dir, photo)
    assert set(shown) == {a.name for a in expected}, (shown, expected)
    for area in expected:
        text = shown[area.name]
        if text == "<0.1%":
            assert area.share < 0.001
        else:
            assert abs(float(text.rstrip("%")) - 100 * area.share) <= 0.2, (area, text)
    if json.loads((model_dir / "config.json").read_text()).get("task") == "foreground":
        assert set(shown) == {"background", "foreground"}  # a person is in the photo
