"""``python -m portal_flask``: migrate, create-account, serve (as the demo runs them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]


def run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portal_flask", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "YC_PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "YC_PORTAL_SECRET_KEY": "cli-test-secret",
    }


def test_create_account_prints_a_generated_password_once_and_refuses_a_duplicate(env):
    assert run(env, "migrate").returncode == 0
    made = run(
        env,
        "create-account",
        "--email",
        "Admin@Site-A.example.org",
        "--role",
        "site_admin",
        "--site",
        "site-a",
    )
    assert made.returncode == 0, made.stderr
    assert "created site_admin account admin@site-a.example.org" in made.stdout
    assert "password (shown once): " in made.stdout
    again = run(
        env,
        "create-account",
        "--email",
        "admin@site-a.example.org",
        "--role",
        "site_admin",
        "--site",
        "site-a",
    )
    assert again.returncode == 2
    assert "has a sign-in already" in again.stderr
    assert "Traceback" not in again.stderr
    engine = create_engine(env["YC_PORTAL_DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("select password_hash from account")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$")


def test_create_account_reads_a_password_and_explains_what_is_wrong(env):
    run(env, "migrate")
    user = ["create-account", "--email", "u@site-a.example.org", "--role", "site_user"]
    weak = run(
        env, *user, "--site", "site-a", "--user-name", "alice", "--password-stdin", stdin="short\n"
    )
    assert weak.returncode == 2
    assert "at least 12 characters" in weak.stderr
    no_user = run(
        env,
        "create-account",
        "--email",
        "u@site-a.example.org",
        "--role",
        "site_user",
        "--site",
        "site-a",
    )
    assert "names the site user" in no_user.stderr
    good = run(
        env,
        "create-account",
        "--email",
        "u@site-a.example.org",
        "--role",
        "site_user",
        "--site",
        "site-a",
        "--user-name",
        "alice",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert good.returncode == 0, good.stderr
    assert "password (shown once)" not in good.stdout


def test_a_database_url_without_a_secret_key_is_refused(env):
    del env["YC_PORTAL_SECRET_KEY"]
    answer = run(env, "migrate")
    assert answer.returncode == 2
    assert "YC_PORTAL_SECRET_KEY is required" in answer.stderr


def test_serve_writes_its_url_to_the_ready_file_and_answers(env, tmp_path: Path):
    ready = tmp_path / "ready"
    run(env, "migrate")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal_flask",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--plain-http",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.05)
        url = ready.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(url + "/auth/sign-in", timeout=10) as response:
            cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "Secure" not in cookie
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0


def test_plain_http_is_refused_off_loopback(env):
    answer = run(env, "serve", "--host", "0.0.0.0", "--port", "0", "--plain-http")
    assert answer.returncode == 2
    assert "only on a loopback address" in answer.stderr


def test_turn_off_two_step_lets_an_operator_who_lost_the_authenticator_set_it_up_again(env):
    run(env, "migrate")
    email = "ops@yarracloud.example.org"
    assert run(env, "create-account", "--email", email, "--role", "operator").returncode == 0
    refused = run(env, "turn-off-two-step", "--email", email)
    assert refused.returncode == 2 and "has no account with two-step sign-in" in refused.stderr
    engine = create_engine(env["YC_PORTAL_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("update account set totp_secret = 'JBSWY3DPEHPK3PXP'"))
    done = run(env, "turn-off-two-step", "--email", email.upper())
    assert done.returncode == 0, done.stderr
    assert f"two-step sign-in is off for {email}" in done.stdout
    assert "Two-step sign-in was turned off for your account." in done.stderr  # the mail, logged
    with engine.connect() as connection:
        assert connection.execute(text("select totp_secret from account")).scalar_one() is None
        action = connection.execute(text("select action from audit_log")).scalar_one()
    engine.dispose()
    assert action == "account.two_step.off"
