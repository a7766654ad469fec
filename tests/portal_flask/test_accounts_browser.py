"""Accounts in a real browser: a cookie copied before sign-out, a password change or a
disable opens nothing; password change, reset by link, disable and enable from the pages."""

from __future__ import annotations

import logging
import re

import pyotp
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.portal_flask.test_browser import browser_sign_in, fill_sign_in

# The browser drives pages whose database work the client tests cover on both databases;
# here it runs on PostgreSQL, what production runs.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

NEW = "a brand new passphrase"
PAGES = ("/tasks/", "/usage/", "/auth/account")


def wait_for(browser, css: str):
    return WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def shows_flash(browser, text: str) -> bool:
    """Wait for a flash message holding ``text``; a click that navigates leaves the old
    page's flash readable for a moment, so waiting for any flash would read that one."""
    try:
        return WebDriverWait(browser, 30).until(
            ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), text)
        )
    except TimeoutException:
        shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".flash")]
        raise AssertionError(f"no flash with {text!r}; the page shows {shown}") from None


def follow(browser, by: str, value: str, *, confirm: bool = False) -> None:
    """Click the element and wait until the next page replaced this one (accepting the
    confirmation dialog first where ``confirm``), so nothing is read from the old page."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, value).click()
    if confirm:
        WebDriverWait(browser, 10).until(ec.alert_is_present()).accept()
    WebDriverWait(browser, 30).until(ec.staleness_of(page))


def sign_in_remembered(browser, url: str, account, password: str | None = None) -> None:
    fill_sign_in(browser, url, account, password)
    browser.find_element(By.ID, "remember").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, "#tasks")


def copy_cookies(browser) -> list[dict]:
    cookies = browser.get_cookies()
    assert {c["name"] for c in cookies} >= {"yc_session", "yc_remember"}
    return cookies


def as_another_browser_with(browser, url: str, cookies: list[dict]) -> None:
    """Drop every cookie, then hold only ``cookies`` (what an attacker copied)."""
    browser.get(url + "/healthz")
    browser.delete_all_cookies()
    for cookie in cookies:
        browser.add_cookie(cookie)


def opens_no_page(browser, url: str) -> bool:
    for page in PAGES:
        browser.get(url + page)
        if "/auth/sign-in" not in browser.current_url:
            return False
    return True


def submit(browser, form_css: str, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        browser.find_element(By.CSS_SELECTOR, f"{form_css} [name={name}]").send_keys(value)
    browser.find_element(By.CSS_SELECTOR, f"{form_css} button[type=submit]").click()


def test_a_cookie_copied_before_sign_out_opens_no_page(live_portal, browser, make_account):
    url, user = live_portal.url, make_account("site_user", "site-a")
    sign_in_remembered(browser, url, user)
    copied = copy_cookies(browser)
    browser.find_element(By.CSS_SELECTOR, ".account button[type=submit]").click()
    assert shows_flash(browser, "You are signed out")
    as_another_browser_with(browser, url, copied)
    assert opens_no_page(browser, url)


def test_changing_the_password_in_the_browser_kills_a_copied_cookie(
    live_portal, browser, make_account
):
    url, user = live_portal.url, make_account("site_user", "site-a")
    sign_in_remembered(browser, url, user)
    copied = copy_cookies(browser)
    browser.get(url + "/auth/account")
    assert "this browser" in browser.find_element(By.CSS_SELECTOR, "table.sessions").text
    fields = {
        "current_password": user.password,
        "new_password": NEW,
        "confirm_password": NEW,
    }
    submit(browser, "#password-form", fields)
    assert shows_flash(browser, "Password changed")
    browser.get(url + "/tasks/")
    assert browser.current_url.endswith("/tasks/")  # this browser stays signed in
    as_another_browser_with(browser, url, copied)
    assert opens_no_page(browser, url)
    browser_sign_in(browser, url, type(user)(**{**user.__dict__, "password": NEW}))


def test_a_forgotten_password_is_reset_by_the_link_in_the_log(
    live_portal, browser, make_account, caplog
):
    url, user = live_portal.url, make_account("site_user", "site-a")
    browser.get(url + "/auth/sign-in")
    browser.find_element(By.LINK_TEXT, "Forgot your password?").click()
    with caplog.at_level(logging.WARNING, logger="portal_flask.mail"):
        submit(browser, "form.form", {"email": user.email})
        assert shows_flash(browser, "a link to set a new password is on its way")
        # The server mails the link once the answer has gone: wait for it in the log.
        mailed = WebDriverWait(browser, 30).until(
            lambda _: re.search(r"http://\S+/auth/reset/\S+", caplog.text)
        )
    link = mailed.group(0)
    browser.get(link)
    submit(browser, "form.form", {"new_password": NEW, "confirm_password": NEW})
    assert shows_flash(browser, "Your new password is set")
    browser.get(link)
    assert shows_flash(browser, "expired or has been used")
    browser_sign_in(browser, url, type(user)(**{**user.__dict__, "password": NEW}))


def test_an_administrator_disables_and_enables_an_account(live_portal, browser, make_account):
    url = live_portal.url
    admin, user = make_account("site_admin", "site-a"), make_account("site_user", "site-a")
    sign_in_remembered(browser, url, user)
    copied = copy_cookies(browser)
    browser.delete_all_cookies()

    browser_sign_in(browser, url, admin)
    follow(browser, By.LINK_TEXT, "Accounts")
    follow(browser, By.LINK_TEXT, user.email)
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.sessions tbody tr")) == 1
    follow(browser, By.ID, "disable", confirm=True)
    assert shows_flash(browser, f"Disabled {user.email}")
    admin_cookies = browser.get_cookies()

    as_another_browser_with(browser, url, copied)
    assert opens_no_page(browser, url)
    browser.find_element(By.ID, "email").send_keys(user.email)
    browser.find_element(By.ID, "password").send_keys(user.password)
    follow(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert shows_flash(browser, "disabled")

    as_another_browser_with(browser, url, admin_cookies)
    browser.get(url + "/accounts/")
    follow(browser, By.LINK_TEXT, user.email)
    follow(browser, By.ID, "enable")
    assert shows_flash(browser, f"Enabled {user.email}")
    browser.delete_all_cookies()
    browser_sign_in(browser, url, user)


def test_an_administrator_sets_up_two_step_and_signs_in_with_a_code(
    live_portal, browser, make_account
):
    url, portal = live_portal.url, live_portal.portal
    admin = make_account("site_admin", "site-a", two_step=False)
    browser_sign_in_to(browser, url, admin, "#two-step-form")
    assert shows_flash(browser, "Administrators sign in in two steps")
    assert browser.find_element(By.CSS_SELECTOR, ".qr svg").is_displayed()
    key = browser.find_element(By.ID, "two-step-key").text
    submit(browser, "#two-step-form", {"code": pyotp.TOTP(key).at(portal.clock())})
    assert shows_flash(browser, "Two-step sign-in is on")
    codes = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes code")]
    assert len(codes) == 10
    browser.find_element(By.CSS_SELECTOR, ".account button[type=submit]").click()
    assert shows_flash(browser, "You are signed out")

    browser_sign_in_to(browser, url, admin, ".flash-error")  # the password alone
    assert shows_flash(browser, "do not match")
    portal.clock.advance(30)
    with_code = type(admin)(
        **{**admin.__dict__, "next_code": lambda: pyotp.TOTP(key).at(portal.clock())}
    )
    browser_sign_in(browser, url, with_code)
    assert browser.current_url.endswith("/tasks/")


def browser_sign_in_to(browser, url: str, account, arrives: str) -> None:
    """Sign in with what ``account`` has, and wait for the page holding ``arrives``."""
    fill_sign_in(browser, url, account)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, arrives)


def test_a_new_password_shows_its_strength_and_can_be_shown_as_typed(
    live_portal, browser, make_account
):
    url, user = live_portal.url, make_account("site_user", "site-a")
    browser_sign_in(browser, url, user)
    browser.get(url + "/auth/account")
    new = browser.find_element(By.ID, "new_password")
    verdict = (By.ID, "new_password-strength")
    new.send_keys("qwerty123456")
    WebDriverWait(browser, 30).until(ec.text_to_be_present_in_element(verdict, "Not accepted"))
    assert "leaked password lists" in browser.find_element(*verdict).text
    new.send_keys(" and a few more words")
    WebDriverWait(browser, 30).until(
        ec.text_to_be_present_in_element(verdict, "Strength: Very strong")
    )
    assert new.get_attribute("type") == "password"
    show = browser.find_element(By.CSS_SELECTOR, "#new_password + .show-password")
    show.click()
    assert new.get_attribute("type") == "text" and show.text == "Hide"
    show.click()
    assert new.get_attribute("type") == "password"

    fields = {"current_password": user.password, "confirm_password": "qwerty123456"}
    new.clear()
    new.send_keys("qwerty123456")
    submit(browser, "#password-form", fields)
    assert "leaked password lists" in wait_for(browser, ".field-error").text
