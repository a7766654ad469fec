"""The portal in a real browser: headless Chromium against the portal served over HTTP."""

from __future__ import annotations

import uuid

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

# The browser drives pages whose database work the client tests cover on both databases;
# here it runs on PostgreSQL, what production runs.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


def fill_sign_in(browser, url: str, account, password: str | None = None) -> None:
    """Open the sign-in page and type the account's email, password and (with two-step) code."""
    browser.get(url + "/auth/sign-in")
    browser.find_element(By.ID, "email").send_keys(account.email)
    browser.find_element(By.ID, "password").send_keys(password or account.password)
    if account.next_code is not None:
        browser.find_element(By.ID, "code").send_keys(account.next_code())


def browser_sign_in(browser, url: str, account) -> None:
    fill_sign_in(browser, url, account)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "tasks")))


def test_signing_in_opens_the_task_monitor(live_portal, browser, make_account):
    admin = make_account("site_admin", "site-a")
    browser.get(live_portal.url + "/tasks/")
    assert "/auth/sign-in" in browser.current_url  # signed out: sent to sign in first
    browser.find_element(By.ID, "email").send_keys(admin.email)
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    flash = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".flash-error"))
    )
    assert "do not match" in flash.text
    browser_sign_in(browser, live_portal.url, admin)
    assert browser.current_url.endswith("/tasks/")
    assert admin.email in browser.find_element(By.CSS_SELECTOR, ".account").text
    cookie = browser.get_cookie("yc_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"


def test_a_task_moves_to_succeeded_on_the_monitor_without_a_reload(
    live_portal, browser, make_account
):
    portal = live_portal.portal
    browser_sign_in(browser, live_portal.url, make_account("site_user", "site-a"))
    browser.execute_script("window.notReloaded = true;")
    assert "No tasks match" in browser.find_element(By.ID, "tasks").text

    task_id = str(uuid.uuid4())
    portal.uploader.task("alice", task_id)
    row = (By.CSS_SELECTOR, f'tr[data-task="{task_id}"] [data-status]')
    # The live update replaces the rows: an element found a moment ago may be gone.
    live = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))
    live.until(ec.presence_of_element_located(row))
    live.until(
        lambda driver: (
            driver.find_element(*row).get_attribute("data-status") in ("SUCCEEDED", "DELIVERED")
        )
    )
    assert browser.execute_script("return window.notReloaded === true;")
    assert "Live · updated" in browser.find_element(By.ID, "live-status").text
    live.until(
        lambda driver: (
            driver.find_element(By.CSS_SELECTOR, f'tr[data-task="{task_id}"] a').click() or True
        )
    )
    WebDriverWait(browser, 30).until(ec.url_contains(task_id))
    assert "Timeline" in browser.page_source
