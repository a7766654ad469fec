"""The site administration pages in headless Chromium: settings, keys and the usage chart."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from administration.utilization import month_bounds, recent_months
from functions.core.clock import month_of
from functions.core.models import ModeSettings, UsageRecord
from tests.portal_flask.test_browser import fill_sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def signed_in(browser, live, account) -> None:
    fill_sign_in(browser, live.url, account)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(ready.url_contains("/tasks/"))


def test_changing_a_modes_size_and_purchase_option(live_portal, browser, make_account):
    signed_in(browser, live_portal, make_account("site_admin", "site-a"))
    browser.get(live_portal.url + "/modes/")
    browser.find_element(By.CSS_SELECTOR, "#mode-demo_fft a.btn").click()
    WebDriverWait(browser, 20).until(ready.presence_of_element_located((By.ID, "mode-form")))
    browser.find_element(By.ID, "size-xlarge").click()
    browser.find_element(By.ID, "purchase-on_demand").click()
    browser.find_element(By.ID, "save-mode").click()
    row = WebDriverWait(browser, 20).until(
        ready.presence_of_element_located((By.ID, "mode-demo_fft"))
    )
    assert "Extra large" in row.text and "On-demand" in row.text
    assert "Saved Demo FFT" in browser.find_element(By.CLASS_NAME, "flashes").text
    settings = ModeSettings.get("site-a", "demo_fft", consistent_read=True)
    assert (settings.vcpus, settings.memory_mib, settings.spot) == (16, 65536, False)


def test_a_new_keys_secret_is_shown_once_and_gone_on_the_next_visit(
    live_portal, browser, make_account
):
    portal = live_portal.portal
    signed_in(browser, live_portal, make_account("site_admin", "site-a"))
    browser.get(live_portal.url + "/keys/")
    browser.find_element(By.ID, "user_name").send_keys("scanner1")
    browser.find_element(By.CSS_SELECTOR, "#new-user-form button[type=submit]").click()
    secret = WebDriverWait(browser, 20).until(
        ready.visibility_of_element_located((By.ID, "secret"))
    )
    shown = secret.text
    key_id = browser.find_element(By.ID, "access-key-id").text
    iam = portal.cloud.clients.session.client("iam")
    listed = iam.list_access_keys(UserName="scanner1")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key_id]
    assert len(shown) >= 40
    link = browser.find_element(By.ID, "download-config").get_attribute("href")
    assert link.startswith("data:") and key_id in link and shown not in link

    browser.get(live_portal.url + "/keys/")
    WebDriverWait(browser, 20).until(ready.presence_of_element_located((By.ID, "users")))
    assert key_id in browser.page_source
    assert shown not in browser.page_source
    assert not browser.find_elements(By.ID, "secret")


def test_the_usage_chart_has_a_bar_per_user_and_month(live_portal, browser, make_account):
    portal = live_portal.portal
    earlier, now = recent_months(portal.clock(), 2)
    for job, user, month, cost in (
        ("j1", "alice", earlier, 1_000_000),
        ("j2", "alice", now, 2_000_000),
        ("j3", "bob", now, 500_000),
    ):
        at = month_bounds(month)[0] + 60
        UsageRecord(
            job,
            task_id=f"t-{job}",
            user_name=user,
            site_id="site-a",
            finished_at=at,
            month=month_of(at),
            status="SUCCEEDED",
            seconds=3600,
            vcpus=2,
            memory_gib=8,
            spot=True,
            attempts=1,
            cost_micros=cost,
            currency="USD",
        ).save()
    signed_in(browser, live_portal, make_account("site_admin", "site-a"))
    browser.get(live_portal.url + "/usage/?months=3")
    chart = WebDriverWait(browser, 20).until(
        ready.visibility_of_element_located((By.CSS_SELECTOR, "svg.chart"))
    )
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    assert sorted((b.get_attribute("data-month"), b.get_attribute("data-user")) for b in bars) == [
        (earlier, "alice"),
        (now, "alice"),
        (now, "bob"),
    ]
    heights = {
        b.get_attribute("data-user") + b.get_attribute("data-month"): b.size["height"] for b in bars
    }
    assert heights["alice" + now] > heights["alice" + earlier] > heights["bob" + now] > 0
