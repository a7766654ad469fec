"""The portal's container image, built as ``scripts/deploy`` builds it, run as ECS runs it."""

from __future__ import annotations

import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.slow

SECRET = "portal-image-test-secret"


def test_the_image_migrates_postgresql_and_serves_the_sign_in_page(
    images, portal_image, postgres, tmp_path: Path
) -> None:
    name = f"portal_image_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name)
    env = {"YC_PORTAL_DATABASE_URL": url, "YC_PORTAL_SECRET_KEY": SECRET}
    run = ["run", "--rm", "--network", "host", "--read-only"]
    run += [arg for variable in env for arg in ("--env", variable)]

    # the task definition's one-off command: python -m portal_flask migrate
    migrated = images.engine.run(
        [*run, portal_image, "python", "-m", "portal_flask", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(postgres.dsn(name)) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version

    ready = tmp_path / "ready"
    ready.mkdir(mode=0o777)
    ready.chmod(0o777)  # the image's user writes its address here
    container = f"yarracloud-portal-{uuid.uuid4().hex[:8]}"
    serve = ["python", "-m", "portal_flask", "serve", "--host", "127.0.0.1", "--port", "0"]
    serve += ["--ready-file", "/ready/address"]
    server = images.engine.run(
        [*run, "-d", "--name", container, "-v", f"{ready}:/ready", portal_image, *serve],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert server.returncode == 0, server.stderr
    try:
        address = ready / "address"
        deadline = time.monotonic() + 120
        while not address.exists():
            logs = images.engine.run(["logs", container], capture_output=True, text=True)
            running = images.engine.run(
                ["inspect", "--format", "{{.State.Running}}", container],
                capture_output=True,
                text=True,
            )
            assert running.stdout.strip() == "true", logs.stdout + logs.stderr
            assert time.monotonic() < deadline, "the portal did not start: " + logs.stderr
            time.sleep(0.1)
        port = address.read_text().strip().rsplit(":", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/sign-in", timeout=30) as page:
            body = page.read().decode()
        assert page.status == 200
        assert 'name="password"' in body
    finally:
        images.engine.run(["rm", "--force", container], capture_output=True)
