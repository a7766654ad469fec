"""Portal commands: ``migrate``, ``create-account``, ``turn-off-two-step``, ``serve``.

python -m portal_flask migrate
python -m portal_flask create-account --email a@b.org --role site_admin --site site-a
python -m portal_flask turn-off-two-step --email a@b.org
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
    turn_off = commands.add_parser(
        "turn-off-two-step",
        help="for someone who lost their authenticator and recovery codes (an operator: "
        "no one in the portal can do it for them); they set it up again at their next sign-in",
    )
    turn_off.add_argument("--email", required=True)
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
        if args.command == "turn-off-two-step":
            return _turn_off_two_step(config, args)
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


def _turn_off_two_step(config: PortalConfig, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from portal_flask import create_app
    from portal_flask.accounts import normalise_email
    from portal_flask.auth import notices, sessions, two_step
    from portal_flask.extensions import db
    from portal_flask.models import Account, AuditLog

    app = create_app(config.with_(backend=None))
    with app.app_context():
        email = normalise_email(args.email)
        account = db.session.scalar(db.select(Account).filter_by(email=email))
        if account is None or not account.totp_secret:
            print(f"error: {email} has no account with two-step sign-in", file=sys.stderr)
            return 2
        now = datetime.fromtimestamp(config.clock(), UTC)
        two_step.turn_off(account)
        ended = sessions.revoke_all(account.id, now)
        db.session.add(
            AuditLog(
                at=now,
                site_id=account.site_id,
                action="account.two_step.off",
                target=account.email,
                details={"by": "command line", "sessions_ended": ended},
            )
        )
        db.session.commit()
        notices.send(config, account, "Two-step sign-in was turned off for your account.", now)
        print(
            f"two-step sign-in is off for {account.email}, signed out everywhere; "
            "it is set up again at the next sign-in"
        )
    return 0


def _serve(config: PortalConfig, args: argparse.Namespace) -> int:
    from portal_flask.serve import serve

    return serve(config, args.host, args.port, args.ready_file, args.plain_http, args.threads)


if __name__ == "__main__":
    sys.exit(main())
