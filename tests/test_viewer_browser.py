"""End to end in a real browser: start the viewer, upload a photo, wait for the mask, screenshot.

Needs Debian's chromium + chromium-driver and selenium; skips (saying what to install) where
they are missing. Deselect with `-m "not browser"`.
"""

from __future__ import annotations

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
