"""Serves the portal against a running local cloud, with keys the local API gateway accepts.

    python -m scripts.local_cloud.portal [--cloud READY_FILE] [--work-dir DIR] [--port PORT]
                                         [--ready-file FILE]

The portal is the same application as ``python -m portal_flask serve``, served by
the same server, over plain HTTP on loopback: a SQLite database and a secret key
in ``--work-dir``, the backend of the cloud that ``READY_FILE`` describes (its
tables, IAM, S3). The local API gateway verifies signatures from the cloud's
credential store, so every key the portal creates or deletes is recorded there
too. The portal's address goes to ``--ready-file`` once it listens.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask

from functions.core.errors import ConfigurationError
from functions.core.settings import Settings
from portal_flask import create_app
from portal_flask.accounts import create_account
from portal_flask.config import PortalConfig, local_secret_key
from portal_flask.keys.service import install_key_hook
from portal_flask.passwords import generate_password
from portal_flask.serve import serve
from scripts.admin import (
    API_URL_VARIABLE,
    CREDENTIALS_VARIABLE,
    DEFAULT_READY_FILE,
    AdminError,
    CredentialStoreHook,
    read_ready_file,
)
from scripts.local_cloud.cloud import REPO_ROOT
from scripts.local_cloud.credentials import CredentialStore

DEFAULT_WORK_DIR = REPO_ROOT / "var" / "local-portal"


def portal_config(cloud_env: Mapping[str, str], work_dir: Path) -> PortalConfig:
    """The portal's configuration for the local cloud whose client environment is ``cloud_env``.

    The database is a SQLite file in ``work_dir`` (migrated when the app is made);
    cookies travel over plain HTTP, which :func:`portal_flask.serve.serve` allows on
    loopback only.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        backend = Settings.from_env(cloud_env)
    except ConfigurationError as exc:
        raise AdminError(f"the local cloud's environment is not complete: {exc}") from None
    return PortalConfig(
        database_url=f"sqlite:///{work_dir / 'portal.db'}",
        secret_key=local_secret_key(work_dir / "secret_key"),
        backend=backend,
        secure_cookies=False,
        environment="local",
        auto_migrate=True,
        api_url=cloud_env.get(API_URL_VARIABLE) or None,
        s3_endpoint=cloud_env.get("AWS_ENDPOINT_URL") or None,
    )


def key_recorder(cloud_env: Mapping[str, str]) -> Callable[[Flask], None]:
    """What makes an app record every key it creates or deletes in the cloud's credential store."""
    path = cloud_env.get(CREDENTIALS_VARIABLE)
    if not path:
        raise AdminError(
            f"the local cloud names no credential store ({CREDENTIALS_VARIABLE}); restart it"
            " from this checkout so that it writes a current ready file"
        )
    hook = CredentialStoreHook(CredentialStore(Path(path)))
    return lambda app: install_key_hook(app, hook)


def build_app(cloud_env: Mapping[str, str], work_dir: Path) -> Flask:
    """The portal's app for the local cloud, its keys recorded for the local API gateway."""
    app = create_app(portal_config(cloud_env, work_dir))
    key_recorder(cloud_env)(app)
    return app


def add_account(config: PortalConfig, email: str, role: str, site_id: str | None = None) -> str:
    """Create a portal account with a generated password, and return that password."""
    password = generate_password()
    app = create_app(config.with_(backend=None))
    with app.app_context():
        create_account(email, password, role, site_id)
    return password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local_cloud.portal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cloud",
        type=Path,
        default=DEFAULT_READY_FILE,
        help="the local cloud's ready file (default: var/local-cloud/ready.json)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK_DIR,
        help="where the portal's SQLite database and secret key are kept",
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=0, help="0 takes any free port")
    parser.add_argument("--ready-file", type=Path, help="write the portal's address here")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        cloud_env = read_ready_file(args.cloud)
        config = portal_config(cloud_env, args.work_dir)
        prepare = key_recorder(cloud_env)
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The portal's boto3 clients find the emulator and its credentials here, as any client.
    os.environ.update({k: v for k, v in cloud_env.items() if k.startswith("AWS_")})
    ready = str(args.ready_file) if args.ready_file else None
    return serve(config, args.host, args.port, ready, True, args.threads, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
