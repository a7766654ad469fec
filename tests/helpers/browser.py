"""Headless Chromium for the browser tests, started as CI needs it (also as root)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing, or would not start."""


def chromium_options(profile: Path):
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    return options


def start_chromium(profile: Path):
    """A Selenium driver for a fresh headless Chromium whose profile lives in ``profile``."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            raise BrowserUnavailable(f"{path} is missing: install the Debian package {package}")
    profile.mkdir(parents=True, exist_ok=True)
    try:
        driver = webdriver.Chrome(
            service=Service(str(CHROMEDRIVER)), options=chromium_options(profile)
        )
    except WebDriverException as exc:
        raise BrowserUnavailable(f"Chromium would not start: {exc.msg}") from exc
    driver.set_page_load_timeout(30)
    return driver
