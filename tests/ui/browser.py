"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium, and the
page's steps as functions the browser tests share."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VMB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VMB_CHROMEDRIVER", "/usr/bin/chromedriver")
TIMEOUT_S = 90.0


def require_ui_extra() -> None:
    """Skip the module when Gradio (the ``ui`` extra) is absent outside CI; in CI it fails."""
    if os.environ.get("CI", "").lower() == "true":
        import gradio  # noqa: F401  (a missing extra is an error in CI)
        import gradio_client  # noqa: F401
        return
    pytest.importorskip("gradio", reason="the ui extra is not installed (pip install 'vmb[ui]')")
    pytest.importorskip("gradio_client", reason="the ui extra is not installed (pip install 'vmb[ui]')")


def require_browser() -> None:
    """Skip when Chromium is absent outside CI; in CI (``CI=true``) a missing browser fails."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() or shutil.which(p))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install 'vmb[ui]')")
    if missing:
        reason = f"headless Chromium not available: {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def new_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,2400", "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT_S)
    driver.set_script_timeout(30)
    return driver


def wait_for(condition, timeout: float = TIMEOUT_S, what: str = "the page", poll: float = 0.2):
    """Poll ``condition()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # noqa: BLE001 (a stale element while the page re-renders)
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_app(driver, url: str) -> None:
    driver.get(url)
    wait_for(lambda: all_css(driver, "#describe"), what="the app to load")


def upload(driver, elem_id: str, path: Path) -> None:
    css(driver, f"#{elem_id} input[type=file]").send_keys(str(path))


def status_text(driver, elem_id: str = "status") -> str:
    """The message line of Describe and the uploads (``status``) or of Generate (``generate-status``)."""
    return css(driver, f"#{elem_id}").text


def input_value(driver, elem_id: str) -> str:
    return css(driver, f"#{elem_id} input").get_attribute("value") or ""


def set_number(driver, elem_id: str, value: float) -> None:
    from selenium.webdriver.common.keys import Keys

    box = css(driver, f"#{elem_id} input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def media_source(driver, elem_id: str) -> str | None:
    """The file an audio/video component plays: its media element's ``src`` or, for Gradio's
    waveform player (which loads the file itself), its download link."""
    return driver.execute_script(
        "const root = document.getElementById(arguments[0]); if (!root) return null;"
        "const el = root.querySelector('audio[src], video[src]');"
        "if (el && el.src && !el.src.startsWith('blob:')) return el.src;"
        "const a = root.querySelector('a[href*=\"/file=\"]'); return a ? a.href : (el ? el.src : null);",
        elem_id,
    )


def media_duration(driver, elem_id: str) -> float | None:
    """The duration Chromium's media stack reads from the file the component plays."""
    src = media_source(driver, elem_id)
    if not src:
        return None
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const m = document.createElement(arguments[1]); m.preload = 'metadata';"
        "m.onloadedmetadata = () => done(m.duration); m.onerror = () => done(-1); m.src = arguments[0];",
        src,
        "video" if src.split("?")[0].endswith(".mp4") else "audio",
    )


def errors_shown(driver) -> str:
    """The text of Gradio's error messages (toasts) on the page."""
    return " ".join(t.text for t in all_css(driver, ".toast-body, .toast-wrap"))


def shot(driver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(900, int(height) + 40), 6000))
    driver.save_screenshot(str(path))
    return path


def image_size(driver, elem_id: str) -> tuple[int, int] | None:
    """The natural size of the picture an image component shows, once it has loaded."""
    size = driver.execute_script(
        "const img = document.querySelector('#' + arguments[0] + ' img');"
        "return img && img.complete && img.naturalWidth ? [img.naturalWidth, img.naturalHeight, img.src] : null;",
        elem_id,
    )
    return None if size is None else (int(size[0]), int(size[1]))


def image_src(driver, elem_id: str) -> str | None:
    return driver.execute_script(
        "const img = document.querySelector('#' + arguments[0] + ' img'); return img ? img.src : null;", elem_id
    )


def type_into(driver, elem_id: str, text: str) -> None:
    """Replace a textbox's text with ``text`` as a user types it."""
    from selenium.webdriver.common.keys import Keys

    box = css(driver, f"#{elem_id} textarea, #{elem_id} input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def choose_radio(driver, elem_id: str, value: str) -> None:
    for label in all_css(driver, f"#{elem_id} label"):
        if label.text.strip() == value:
            label.click()
            return
    raise AssertionError(f"no choice {value!r} in #{elem_id}")


def code_text(driver, elem_id: str) -> str:
    """All the text a code component shows. CodeMirror draws only the lines near the window, so
    the window is made as tall as the page (at most 12000 px) and the code scrolled into it."""
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(2400, int(height) + 200), 12000))
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", elem_id)
    time.sleep(0.3)
    return css(driver, f"#{elem_id} .cm-content").text
