"""Runs the viewer on a free localhost port and drives it in headless Chromium (Selenium).

Used by the end-to-end test and `apps/screenshot.py`. Needs Debian's `chromium` and
`chromium-driver` (nothing is downloaded: Selenium is pointed at the system binaries).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator

from segtf.viewer.server import APP, streamlit_command

CHROMIUM = os.environ.get("SEGTF_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SEGTF_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the networking flags Chromium stalls on a closed network (component updates, sync).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
RESULT_SELECTOR = 'img[alt="segmentation mask"]'
LEGEND_SELECTOR = "table.segtf-legend"  # the legend under each result (segtf.viewer.legend)


def missing_browser() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found: apt-get install -y {package}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -r requirements-dev.txt"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_viewer(
    zoo: str | os.PathLike | None = None, port: int | None = None, timeout: float = 120.0
) -> Iterator[str]:
    """Starts `streamlit run apps/viewer.py` on 127.0.0.1 and yields its URL."""
    port = port or free_port()
    env = dict(os.environ)
    if zoo is not None:
        env["SEGTF_ZOO"] = str(zoo)
    log = tempfile.TemporaryFile()
    command = streamlit_command("127.0.0.1", port, extra=("--server.fileWatcherType", "none"))
    process = subprocess.Popen(
        command, cwd=APP.parents[1], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen, log, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"streamlit exited ({process.returncode}):\n{log.read().decode()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        time.sleep(0.3)
    raise TimeoutError(f"the viewer did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """A headless Chromium WebDriver with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="segtf-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def upload_and_wait(
    driver, url: str, image: str | os.PathLike, model: str | None = None, timeout: float = 180.0
) -> None:
    """Opens the viewer, picks `model` (its name, optional), uploads `image` through the file
    input and waits until the mask image has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    file_input = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'input[type="file"]')))
    if model:
        _choose_model(driver, wait, model)
        file_input = driver.find_element(By.CSS_SELECTOR, 'input[type="file"]')
    file_input.send_keys(str(pathlib.Path(image).resolve()))
    wait_for_result(driver, timeout)


def wait_for_result(driver, timeout: float = 180.0) -> None:
    """Waits until the mask image has loaded, no spinner is left and the legend is on the page
    (on a loaded machine it can paint well after the mask image)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    wait.until(
        lambda d: d.execute_script(
            "const img = document.querySelector(arguments[0]);"
            "return img !== null && img.complete && img.naturalWidth > 0;",
            RESULT_SELECTOR,
        )
    )
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stSpinner"]'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, LEGEND_SELECTOR))
    time.sleep(1.0)  # let the overlay and legend images finish painting


def press_by_keyboard(driver, label: str, max_tabs: int = 80) -> int:
    """Moves the focus with Tab until the button labelled `label` has it, then presses Enter.
    Returns the number of Tab presses (fails if the button is not reachable)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    button = (By.XPATH, f"//button[normalize-space()='{label}']")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(*button))
    for presses in range(1, max_tabs + 1):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if driver.switch_to.active_element.text.strip() == label:
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            return presses
    raise AssertionError(f"no button {label!r} within {max_tabs} Tab presses")


def _choose_model(driver, wait, model: str) -> None:
    """Types `model` into the sidebar's model combobox and picks the matching option."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    combobox = (By.CSS_SELECTOR, 'input[role="combobox"][aria-label="Model"]')
    box = wait.until(ec.element_to_be_clickable(combobox))
    if box.get_attribute("value").split(" ")[0] == model:
        return
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(model)
    option = (By.XPATH, f"//*[@role='option'][starts-with(normalize-space(), '{model} ')]")
    wait.until(ec.element_to_be_clickable(option)).click()
    wait.until(lambda d: d.find_element(*combobox).get_attribute("value").split(" ")[0] == model)


def screenshot(driver, path: str | os.PathLike, full_page: bool = True) -> pathlib.Path:
    """Saves a PNG of the page; `full_page` grows the window to the page's height first."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_page:
        height = driver.execute_script(
            "const main = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
            "return Math.max(main.scrollHeight, document.body.scrollHeight);"
        )
        width = driver.get_window_size()["width"]
        driver.set_window_size(width, min(int(height) + 40, 4000))
        time.sleep(0.5)
    driver.save_screenshot(str(path))
    return path
