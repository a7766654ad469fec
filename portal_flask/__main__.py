"""Portal commands: ``migrate``, ``create-account``, ``serve``.

python -m portal_flask migrate
python -m portal_flask create-account --email a@b.org --role site_admin --site site-a
python -m portal_flask serve --host 127.0.0.1 --port 0 --ready-file var/portal/ready
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from functions.core.errors import ConfigurationError
from portal_flask.config import PortalConfig
from portal_flask.models import ROLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portal_flask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")
    create = commands.add_parser("create-account", help="add a portal account")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--site", help="the site id (not for an operator)")
    create.add_argument("--user-name", help="a site user's IAM user name")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    serve = commands.add_parser("serve", help="serve the portal")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument("--ready-file", help="write the portal's URL here once it listens")
    serve.add_argument(
        "--plain-http",
        action="store_true",
        help="cookies without the Secure flag, for plain HTTP on a loopback address only",
    )
    serve.add_argument("--threads", type=int, default=8)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = PortalConfig.from_env()
        if args.command == "migrate":
            from portal_flask.migrate import upgrade

            upgrade(config.database_url)
            print("database is up to date")
            return 0
        if args.command == "create-account":
            return _create_account(config, args)
        return _serve(config, args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _create_account(config: PortalConfig, args: argparse.Namespace) -> int:
    from portal_flask import create_app
    from portal_flask.accounts import AccountError, create_account
    from portal_flask.passwords import generate_password

    if args.password_stdin:
        password = getpass.getpass() if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        generated = False
    else:
        password = generate_password()
        generated = True
    app = create_app(config.with_(backend=None))
    with app.app_context():
        try:
            account = create_account(args.email, password, args.role, args.site, args.user_name)
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"created {account.role} account {account.email}")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _serve(config: PortalConfig, args: argparse.Namespace) -> int:
    from portal_flask.serve import serve

    return serve(config, args.host, args.port, args.ready_file, args.plain_http, args.threads)


if __name__ == "__main__":
    sys.exit(main())
