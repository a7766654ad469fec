"""Screenshots of the portal's main pages, for docs/screenshots/.

Starts the AWS emulator and a local cloud, fills them with two fictitious sites,
their users, a few weeks of tasks and usage, serves the portal on a free
loopback port and photographs, in headless Chromium, the sign-in page, the
task monitor and a task, then every page in the navigation, as a site
administrator and as the operator.

    python -m scripts.portal_screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyotp

from functions.core.models import Task, UsageRecord
from portal_flask import create_app
from portal_flask.accounts import create_account
from portal_flask.auth import two_step
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from scripts.admin import Admin
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.seed import DEMO_MODE
from tests.helpers.browser import start_chromium

PASSWORD = "screenshots only 2026"
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC).timestamp()
STATUSES = ["DELIVERED"] * 12 + ["SUCCEEDED", "RUNNING", "RUNNABLE", "FAILED", "UPLOADING"]
FAILURE = "The raw file ended early (12.0 of 48.0 MiB): upload it again from the scanner."


def fill(cloud: LocalCloud, rng: random.Random) -> None:
    admin = Admin(
        settings=cloud.settings,
        iam=cloud.clients.session.client("iam"),
        credentials=cloud.credentials,
        site_user_group=cloud.resources.site_user_group(),
        api_url=cloud.api.endpoint,
        say=lambda _: None,
    )
    admin.publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
    admin.add_site("harbour", "Harbour Imaging Centre")
    admin.add_site("northside", "Northside Radiology")
    admin.enable_mode("harbour", "demo_fft", vcpus=4, memory_mib=16384, spot=True)
    users = {"harbour": ["mri-3t-a", "mri-15t-b"], "northside": ["scanner-1"]}
    for site, names in users.items():
        for name in names:
            admin.add_user(name, site)
    for i in range(60):
        site = "harbour" if i % 4 else "northside"
        user = rng.choice(users[site])
        status = STATUSES[-1 - i] if i < 5 else rng.choice([*STATUSES[:13], "FAILED"])
        created = NOW - i * 9000 - rng.random() * 3000
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        finished = status in ("DELIVERED", "SUCCEEDED", "FAILED")
        run = 300 + rng.random() * 900
        cost = round(run / 3600 * 4 * 12_460 + run / 3600 * 16 * 1_370) if finished else 0
        Task(
            task_id,
            site_id=site,
            user_name=user,
            status=status,
            created_at=created,
            touched_at=created + 60,
            status_times={"UPLOADING": created, "SUBMITTED": created + 40, status: created + run},
            recon_mode="demo_fft",
            vcpus=4,
            memory_mib=16384,
            spot=True,
            attempts=1,
            started_at=created + 90 if status != "UPLOADING" else None,
            stopped_at=created + 90 + run if finished else None,
            cost_micros=cost,
            error=FAILURE if status == "FAILED" else None,
        ).save()
        if finished:
            UsageRecord(
                f"job-{task_id}",
                task_id=task_id,
                user_name=user,
                site_id=site,
                finished_at=created + 90 + run,
                month=datetime.fromtimestamp(created, UTC).strftime("%Y-%m"),
                status=status,
                seconds=round(run),
                vcpus=4,
                memory_gib=16,
                spot=True,
                attempts=1,
                cost_micros=cost,
                currency="USD",
            ).save()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from waitress.server import create_server

    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        cloud = LocalCloud(endpoint=emulator.endpoint, work_dir=Path(tmp) / "cloud", poll=False)
        with cloud:
            fill(cloud, random.Random(20261124))
            config = PortalConfig(
                database_url=f"sqlite:///{Path(tmp) / 'portal.db'}",
                secret_key="screenshots",
                backend=cloud.settings,
                secure_cookies=False,
                auto_migrate=True,
                tasks_poll_seconds=3600,
            )
            app = create_app(config)
            keys = {}
            with app.app_context():
                for email, role, site in (
                    ("admin@harbour.example.org", "site_admin", "harbour"),
                    ("operator@yarracloud.example.org", "operator", None),
                ):
                    # Administrators sign in in two steps: give each an authenticator key.
                    keys[email] = two_step.new_secret()
                    two_step.turn_on(create_account(email, PASSWORD, role, site), keys[email], 0)
                db.session.commit()
            server = create_server(app, host="127.0.0.1", port=0, threads=4)
            threading.Thread(target=server.run, daemon=True).start()
            url = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
            browser = start_chromium(Path(tmp) / "chromium")
            try:
                shoot(browser, url, app, args.out, keys)
            finally:
                browser.quit()
                server.close()


def shoot(browser, url: str, app, out: Path, keys: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    def save(name: str) -> None:
        browser.save_screenshot(str(out / f"{name}.png"))
        print(f"{out / name}.png")

    def sign_in(email: str) -> None:
        browser.delete_all_cookies()
        browser.get(url + "/auth/sign-in")
        browser.find_element(By.ID, "email").send_keys(email)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(keys[email]).now())
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    browser.get(url + "/auth/sign-in")
    save("sign-in")
    shot = set()
    for email, role in (
        ("admin@harbour.example.org", "site_admin"),
        ("operator@yarracloud.example.org", "operator"),
    ):
        sign_in(email)
        browser.get(url + "/tasks/")
        save(f"tasks-{role}")
        if role == "site_admin":
            failed = browser.find_elements(
                By.XPATH, '//tr[.//*[@data-status="FAILED"]]//a[contains(@href, "/tasks/")]'
            )
            if failed:
                browser.get(failed[0].get_attribute("href"))
                save("task-detail")
        with app.test_request_context():
            from flask import url_for

            pages = [
                (entry.endpoint, url_for(entry.endpoint))
                for entry in app.extensions["portal_nav"]
                if role in entry.roles and entry.endpoint != "tasks.index"
            ]
        for endpoint, path in pages:
            if endpoint in shot:
                continue
            shot.add(endpoint)
            browser.get(url + path)
            save(endpoint.replace(".", "-"))


if __name__ == "__main__":
    main()
