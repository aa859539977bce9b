"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, with the checks
every page of the browser suite must pass: it fits the screen, the console stays clean, and the
Content-Security-Policy is never violated. Full-page screenshots go to SCREENSHOTS.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.processes import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# docs/contributing.md names this folder; CI keeps it as an artifact. Git-ignored.
SCREENSHOTS = REPO / "artifacts" / "screenshots"
# Flags that work in a container without a GPU or sandbox, and that keep the browser from calling home.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
# Runs in every page before its own content: collects what the Content-Security-Policy blocked.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(
    e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at line ' + e.lineNumber);
});
"""


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int

    @property
    def mobile(self) -> bool:
        return self.width < 600


DESKTOP = Viewport("desktop", 1280, 900)
PHONE = Viewport("phone", 390, 844)


class Browser:
    """One Chromium with a fresh profile; `visit`, `check_page` and `screenshot` are what tests use."""

    def __init__(self, base_url: str, downloads: Path):
        self.base_url = base_url.rstrip("/")
        self.downloads = downloads
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.add_experimental_option(
            "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
        )
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_LISTENER})
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        self.viewport = DESKTOP

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    # --- navigation -----------------------------------------------------------------------------
    def use(self, viewport: Viewport) -> None:
        """Emulate the viewport (a phone's also gets touch-style layout and the meta viewport)."""
        self.viewport = viewport
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": viewport.width, "height": viewport.height, "deviceScaleFactor": 1, "mobile": viewport.mobile},
        )

    def client_address(self, address: str | None) -> None:
        """Send the app requests as if from `address` (the X-Forwarded-For entry nginx would add; the
        `gunicorn` fixture trusts it), or as from this machine again with None."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"X-Forwarded-For": address} if address else {}}
        )

    def visit(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return self.find("body").text

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            field = self.find(f"[name='{name}']")
            field.clear()
            field.send_keys(value)

    def submit(self, button_text: str) -> None:
        """Click the submit button with this text and wait for the next page."""
        buttons = [
            b
            for b in self.find_all("button[type=submit], input[type=submit]")
            if (b.text or b.get_attribute("value")).strip() == button_text
        ]
        assert buttons, f"no button {button_text!r} on {self.path}"
        self._then_wait_for_next_page(buttons[0].click)

    def click_link(self, text: str) -> None:
        self._then_wait_for_next_page(self.driver.find_element(By.LINK_TEXT, text).click)

    def _then_wait_for_next_page(self, action) -> None:
        # A mark on this page's window object; the next page has a new window object without it.
        self.driver.execute_script("window.__leaving = true")
        action()
        WebDriverWait(self.driver, 60).until(
            lambda d: d.execute_script("return window.__leaving === undefined && document.readyState === 'complete'")
        )

    # --- the checks every page passes -----------------------------------------------------------
    def check_page(self, expected_status_in_console: int | None = None) -> None:
        """No sideways scrolling, no console errors, no CSP violations on the page now shown.

        An error page's own status (404, 403...) is logged by Chromium as a failed load; pass it
        as `expected_status_in_console` to accept that one line.
        """
        scroll_width, inner_width = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        # On a phone, content wider than the screen also widens the layout viewport (innerWidth).
        assert scroll_width <= inner_width == self.viewport.width, (
            f"{self.path} is {max(scroll_width, inner_width)} px wide on a {self.viewport.width} px screen "
            f"(scrollWidth {scroll_width}, innerWidth {inner_width})"
        )
        violations = self.driver.execute_script("return window.__cspViolations || []")
        assert violations == [], f"CSP violations on {self.path}: {violations}"
        errors = [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        if expected_status_in_console:
            errors = [e for e in errors if f"status of {expected_status_in_console}" not in e]
        assert errors == [], f"console errors on {self.path}: {errors}"

    def screenshot(self, name: str) -> Path:
        """The whole page (not only the viewport) as artifacts/screenshots/<viewport>-<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.viewport.width, "height": size["height"], "scale": 1},
            },
        )
        path = SCREENSHOTS / f"{self.viewport.name}-{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def download(self, link_text: str, suffix: str, timeout: float = 30) -> Path:
        """Click a link that downloads a file (the page stays); the file once Chromium has saved it."""
        self.driver.find_element(By.LINK_TEXT, link_text).click()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.downloads.iterdir() if p.name.endswith(suffix)]
            if done:
                return done[0]
            time.sleep(0.1)
        raise AssertionError(f"no *{suffix} downloaded into {self.downloads}: {list(self.downloads.iterdir())}")
