"""Drive a built galaxy explorer in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

``check_explorer(folder)`` is the browser check shared by tests/test_explorer.py (a small synthetic explorer) and
tests/test_workflow.py (the explorer of the tiny end-to-end run); benchmarks/explorer.py reuses ``chromium``.
Selenium is only given the Debian binaries (Service path + binary_location), so Selenium Manager never runs and no
browser or driver is ever downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_SCRIPT = Path(__file__).resolve().parent / "browser" / "install_chromium.sh"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1")
SCREENSHOT_COPY = Path("/tmp/explorer_screenshot.png")


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver (tests/browser/install_chromium.sh) when they are missing."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"could not install chromium: {result.stderr[-2000:]}"


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A selenium WebDriver on headless Debian Chromium with a fresh profile, closed (and the profile deleted) on
    exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    profile = tempfile.mkdtemp(prefix="galssl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_script_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def read_page_data(folder: Path) -> dict:
    """The ``window.GALSSL`` object of an explorer folder (its data.js), as Python."""
    text = (Path(folder) / "data.js").read_text(encoding="utf-8")
    prefix = "window.GALSSL = "
    assert text.startswith(prefix), "data.js must define window.GALSSL"
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


def decode(text: str, dtype: str) -> np.ndarray:
    """A base64 typed array of data.js as numpy."""
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype))


def wait_for(driver, script: str, timeout: float = 15.0, *args):
    """Poll a JS expression (``return ...``) until it is truthy; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for: {script}"
        time.sleep(0.05)


def open_explorer(driver, folder: Path) -> None:
    """Load index.html from file:// and wait for the page's API."""
    driver.get((Path(folder).resolve() / "index.html").as_uri())
    wait_for(driver, "return window.galsslExplorer && window.galsslExplorer.ready;")


def _mouse(driver):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    return ActionBuilder(driver)


def move_to(driver, x: float, y: float) -> None:
    """A real (trusted) mouse move to viewport CSS px (x, y)."""
    actions = _mouse(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.perform()


def click_at(driver, x: float, y: float) -> None:
    actions = _mouse(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y))).click()
    actions.perform()


def hoverable_point(driver, avoid: tuple[str, ...] = ()) -> dict:
    """A point the cursor can reach: on screen, not under an overlay, and the nearest point to its own position."""
    return driver.execute_script("""
        const api = window.galsslExplorer, avoid = new Set(arguments[0]), map = document.getElementById('map');
        const box = map.getBoundingClientRect(), n = api.pointCount(), step = Math.max(1, Math.floor(n / 400));
        for (let pass = 0; pass < 2; pass++) {
          for (let i = pass; i < n; i += step) {
            const id = api.objectId(i);
            if (avoid.has(id)) continue;
            const p = api.project(i);
            if (!p.visible || p.x < box.left + 40 || p.y < box.top + 40 || p.x > box.right - 40
                || p.y > box.bottom - 40)
              continue;
            if (document.elementFromPoint(p.x, p.y) !== map) continue;
            if (api.pickAt(p.x - box.left, p.y - box.top) !== id) continue;
            return {id: id, x: p.x, y: p.y};
          }
        }
        return null;""", list(avoid))


def _element_pixels(element) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB"), dtype=float)


def severe_console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def check_explorer(folder: Path, screenshot: Path) -> dict:
    """Open the explorer in headless Chromium and check what a user does: point count, hover (thumbnail in the
    tooltip), click (k neighbour thumbnails, highlighted), colour by a number, wheel zoom, drag pan, search by
    object_id. Saves a screenshot to ``screenshot`` (and a copy to /tmp/explorer_screenshot.png); returns a summary."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    folder = Path(folder)
    data = read_page_data(folder)
    n, k = data["n_points"], data["neighbours"]["k"]
    neighbour_rows = decode(data["neighbours"]["rows"], "<i4").reshape(n, k)
    with chromium() as driver:
        open_explorer(driver, folder)
        api = "return window.galsslExplorer."
        assert driver.execute_script(api + "pointCount();") == n

        # Hover: the tooltip shows this galaxy's thumbnail (its sprite tile, loaded and not blank) and its labels.
        target = hoverable_point(driver)
        assert target, "no galaxy of the map can be reached by the mouse"
        move_to(driver, target["x"], target["y"])
        wait_for(driver, "const t = document.getElementById('tooltip');"
                         "return !t.hidden && t.dataset.objectId === arguments[0];", 10, target["id"])
        assert driver.execute_script(api + "hoveredId();") == target["id"]
        thumb = driver.find_element(By.CSS_SELECTOR, "#tooltip .thumb")
        assert thumb.get_attribute("data-object-id") == target["id"]
        tile = driver.execute_script(api + "tile(arguments[0]);", target["id"])
        assert tile["file"] in thumb.value_of_css_property("background-image")
        wait_for(driver, api + "sheetLoaded(arguments[0]);", 15, tile["sheet"])
        time.sleep(0.2)  # let the loaded sheet paint
        pixels = _element_pixels(thumb)
        assert pixels.std() > 2.0, "the tooltip thumbnail is blank"
        tooltip_text = driver.find_element(By.ID, "tooltip").text
        assert target["id"] in tooltip_text

        # Click: the panel shows the k nearest neighbours as thumbnails, the same ones as the data.
        click_at(driver, target["x"], target["y"])
        wait_for(driver, api + "selectedId() === arguments[0];", 10, target["id"])
        cells = driver.find_elements(By.CSS_SELECTOR, "#neighbours .neighbour")
        assert len(cells) == k
        expected = [data["object_id"][row] for row in neighbour_rows[data["object_id"].index(target["id"])]]
        assert [cell.get_attribute("data-object-id") for cell in cells] == expected
        assert driver.execute_script(api + "neighbourIds();") == expected
        assert len(driver.find_elements(By.CSS_SELECTOR, "#neighbours .neighbour .thumb")) == k

        # Colour by: a number column gets a colour ramp in the legend; then back to the default.
        columns = driver.execute_script(api + "colourColumns();")
        numbers = [column["name"] for column in data["columns"] if column["kind"] == "number"]
        if numbers:
            Select(driver.find_element(By.ID, "colour-by")).select_by_value(numbers[0])
            wait_for(driver, "return document.querySelector('#legend canvas') !== null;")
            assert driver.execute_script(api + "colourBy();") == numbers[0]
        Select(driver.find_element(By.ID, "colour-by")).select_by_value(data["colour_by"])
        assert len(columns) >= 1

        # Wheel zoom about the cursor and drag to pan.
        before = driver.execute_script(api + "view();")
        origin = ScrollOrigin.from_viewport(int(target["x"]), int(target["y"]))
        ActionChains(driver).scroll_from_origin(origin, 0, -300).perform()
        zoomed = wait_for(driver, "const v = window.galsslExplorer.view(); return v.scale > arguments[0] && v;", 5,
                          before["scale"])
        actions = _mouse(driver)
        actions.pointer_action.move_to_location(int(target["x"]), int(target["y"])).pointer_down()
        actions.pointer_action.move_to_location(int(target["x"]) - 120, int(target["y"]) + 60).pointer_up()
        actions.perform()
        panned = driver.execute_script(api + "view();")
        assert panned["cx"] != zoomed["cx"] and panned["cy"] != zoomed["cy"]
        assert driver.execute_script(api + "selectedId();") == target["id"], "a drag must not change the selection"

        # Search by object_id: the galaxy is selected and centred on the map.
        wanted = data["object_id"][-1] if data["object_id"][-1] != target["id"] else data["object_id"][0]
        search = driver.find_element(By.ID, "search-input")
        search.clear()
        search.send_keys(wanted, Keys.ENTER)
        wait_for(driver, api + "selectedId() === arguments[0];", 10, wanted)
        where = driver.execute_script(api + "project(arguments[0]);", wanted)
        box = driver.find_element(By.ID, "map").rect
        assert abs(where["x"] - (box["x"] + box["width"] / 2)) < 2
        assert abs(where["y"] - (box["y"] + box["height"] / 2)) < 2

        # Screenshot: the searched galaxy selected with its neighbours, and the tooltip of one of them.
        shown = driver.execute_script(
            "const api = window.galsslExplorer, box = document.getElementById('map').getBoundingClientRect();"
            "return api.neighbourIds().map(id => [id, api.project(id)]).filter(([id, p]) => p.visible"
            " && p.x > box.left + 60 && p.y > box.top + 60 && p.x < box.right - 60 && p.y < box.bottom - 60"
            " && document.elementFromPoint(p.x, p.y).id === 'map'"
            " && api.pickAt(p.x - box.left, p.y - box.top) === id);")
        if shown:
            neighbour, point = shown[0]
            move_to(driver, point["x"], point["y"])
            wait_for(driver, "return document.getElementById('tooltip').dataset.objectId === arguments[0];", 10,
                     neighbour)
        wait_for(driver, "return [...document.querySelectorAll('.thumb')].every(t => "
                         "window.galsslExplorer.sheetLoaded(+t.dataset.sheet));", 15)
        time.sleep(0.3)
        screenshot = Path(screenshot)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(screenshot))
        errors = severe_console_errors(driver)
        assert not errors, f"the page logged errors: {errors}"
    shutil.copyfile(screenshot, SCREENSHOT_COPY)
    print(f"explorer screenshot: {screenshot} (copy: {SCREENSHOT_COPY})")
    return {"points": n, "k": k, "hovered": target["id"], "searched": wanted, "screenshot": str(screenshot)}
